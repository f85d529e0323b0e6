"""Leases in the database (SQLite and PostgreSQL): one holder, expiry, dead holders, live files."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from production.leases import Busy, hold
from production.store import transaction
from storage.artifacts import ArtifactStore
from storage.db import open_database
from storage.leases import PROJECT, Holder, acquire, holder_of, live_tokens, process_start, shot_scope
from storage.repo import get_project, live_shots, recover_interrupted
from storage.tracking import ensure_project


@pytest.fixture
def project(db_url: str, tmp_path: Path) -> dict:
    board = tmp_path / "board.yaml"
    board.write_text("x")
    engine = open_database(db_url, create=True)
    with transaction(engine) as s:
        ensure_project(s, "film", board)
    return {"engine": engine, "url": db_url}


def _dead_holder() -> Holder:
    """A holder identity on this host whose process has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start(proc.pid)
    proc.wait()
    return replace(Holder.here(), owner=f"here:{proc.pid}", pid=proc.pid, pid_start=started)


def test_one_holder_at_a_time_until_expiry(project: dict) -> None:
    a, b = Holder.here(), replace(Holder.here(), token="b" * 32, host="elsewhere", owner="elsewhere:1")
    with transaction(project["engine"]) as s:
        film = get_project(s, "film")
        assert acquire(s, film, PROJECT, a, 0.5) is not None
        assert acquire(s, film, PROJECT, b, 60) is None  # live holder
        assert acquire(s, film, shot_scope("s01"), b, 60) is not None  # another scope
        assert acquire(s, film, PROJECT, a, 60) is not None  # the holder renews
    time.sleep(0.01)
    with transaction(project["engine"]) as s:
        film = get_project(s, "film")
        assert holder_of(s, film).token == a.token
        lease = holder_of(s, film)
        lease.expires_at = lease.acquired_at  # expired
    with transaction(project["engine"]) as s:
        film = get_project(s, "film")
        assert holder_of(s, film) is None
        assert acquire(s, film, PROJECT, b, 60).token == b.token  # taken over


def test_a_dead_holder_on_this_host_is_taken_over_at_once(project: dict) -> None:
    dead = _dead_holder()
    with transaction(project["engine"]) as s:
        film = get_project(s, "film")
        assert acquire(s, film, PROJECT, dead, 3600) is not None
    with transaction(project["engine"]) as s:
        assert live_tokens(s, get_project(s, "film")) == set()
    with hold(project["engine"], "film") as held:
        assert held.holder.token != dead.token
        with pytest.raises(Busy, match=r"project 'film' is busy: .*\(render\) since"):
            with hold(project["engine"], "film"):
                pass


def test_recovery_and_staging_clean_only_what_dead_holders_left(project: dict, tmp_path: Path) -> None:
    """A live render's takes and staging files are never touched; a dead one's are."""
    from shots import load_storyboard, plan_storyboard
    from storage.repo import add_take
    from storage.tracking import submit

    board = tmp_path / "film" / "storyboard.yaml"
    board.parent.mkdir()
    board.write_text("title: t\nshots:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y, continuity: cut}\n")
    parsed = load_storyboard(board)
    store = ArtifactStore(tmp_path / "home")
    live, dead = Holder.here(), _dead_holder()
    with transaction(project["engine"]) as s:
        submit(s, "film", board, parsed, plan_storyboard(parsed), "tiny")
        film = get_project(s, "film")
        acquire(s, film, PROJECT, live, 3600)
        shots = {shot.key: shot for shot in live_shots(s, film)}
        add_take(s, shots["a"], 1, "tiny", {}, owner=live.token)
        add_take(s, shots["b"], 1, "tiny", {}, owner=dead.token)
    (store.staging("film", live.token) / "a-1.mp4").write_bytes(b"being written")
    (store.staging("film", dead.token) / "b-1.mp4").write_bytes(b"half written")
    with transaction(project["engine"]) as s:
        film = get_project(s, "film")
        tokens = live_tokens(s, film)
        assert tokens == {live.token}
        assert recover_interrupted(s, film, tokens) == ["b"]
        takes = {shot.key: shot.takes[0].status for shot in live_shots(s, film)}
    assert takes == {"a": "rendering", "b": "failed"}
    assert store.clean_staging("film", tokens) == 1
    assert (store.home / "film" / ".staging" / live.token / "a-1.mp4").read_bytes() == b"being written"
    assert not (store.home / "film" / ".staging" / dead.token).exists()
