"""Two task workers, a Prefect server on PostgreSQL and storyreel on PostgreSQL, on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from production.store import transaction
from storage.db import open_database
from storage.repo import get_project, live_shots
from tests.conftest import PG_BASE, ROOT, _pg_available
from tests.test_server_command import _free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BOARD = """\
title: Three chains
settings: {model: tiny, width: 64, height: 64, fps: 16, steps: 8, seed: 3, max_takes: 1,
           thresholds: {prompt: null, color_drift: null, boundary: null, identity: null, temporal: null, motion: null}}
scenes:
  - id: one
    shots:
      - {id: a1, prompt: a red circle moves right, duration: 3}
      - {id: a2, prompt: a red circle moves up, duration: 3}
  - id: two
    shots:
      - {id: b1, prompt: a blue square moves left, duration: 3}
      - {id: b2, prompt: a blue square grows, duration: 3}
  - id: three
    shots:
      - {id: c1, prompt: a green star spins, duration: 3}
      - {id: c2, prompt: a green star shrinks, duration: 3}
"""


@pytest.fixture
def postgres() -> dict:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; CI needs it")
        pytest.skip("PostgreSQL is not reachable")
    admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    name = f"sr_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}_prefect")
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    base = PG_BASE.rsplit("/", 1)[0]
    yield {
        "prefect": f"{base.replace('postgresql+psycopg', 'postgresql+asyncpg')}/{name}_prefect",
        "storyreel": f"{PG_BASE}?options=-csearch_path%3D{name}",
    }
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}_prefect WITH (FORCE)")
        conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _workers(api: str) -> int:
    from flows.render_flow import render_shot_task

    body = json.dumps({"task_worker_filter": {"task_keys": [render_shot_task.task_key]}}).encode()
    request = urllib.request.Request(f"{api}/task_workers/filter", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return len(json.loads(response.read()))
    except OSError:
        return -1


def _shots(url: str, project: str) -> dict:
    with transaction(open_database(url)) as s:
        return {
            shot.key: [(t.seed, t.params.get("worker"), (t.timings or {}).get("load", 0), t.last_frame_sha256, t.created_at) for t in shot.takes]
            for shot in live_shots(s, get_project(s, project))
        }


def _overlap(shots: dict) -> bool:
    """Both workers rendered, and each started a take while the other still had work to do."""
    takes = [t for ts in shots.values() for t in ts]
    times = {w: sorted(t[4] for t in takes if t[1] == w) for w in {t[1] for t in takes}}
    if len(times) != 2:
        return False
    first, second = times.values()
    return first[0] < second[-1] and second[0] < first[-1]


def test_two_workers_share_the_chains_and_match_a_single_process_run(tmp_path: Path, postgres: dict, tiny_models) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres["prefect"], "PREFECT_LOGGING_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    env.pop("PREFECT_API_URL", None)
    procs = [subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        _wait(lambda: _workers(api) == 0, 120, "the Prefect server")
        homes = {}
        for run in ("workers", "w1", "w2", "single"):  # the flow, each worker and the single run: separate hosts
            home = tmp_path / run
            (home / "models").mkdir(parents=True)
            shutil.copytree(tiny_models["wan"], home / "models" / "tiny-wan-i2v")
            (home / "film").mkdir()
            (home / "film" / "storyboard.yaml").write_text(BOARD)
            homes[run] = home
        results = tmp_path / "results"  # task results and media shared through fsspec URLs only
        store = tmp_path / "store"
        client_env = {**env, "PREFECT_API_URL": api, "STORYREEL_DATABASE_URL": postgres["storyreel"],
                      "STORYREEL_RESULTS": results.as_uri(), "STORYREEL_STORE": store.as_uri()}
        for worker in ("w1", "w2"):
            procs.append(subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--home", str(homes[worker])],
                                          cwd=ROOT, env=client_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        _wait(lambda: _workers(api) == 2, 120, "two workers")
        render = [sys.executable, "-m", "flows.cli", "render", "--no-review", "--json"]
        # Both workers are subscribed before the flow submits (registered = waiting on the
        # server's queue). The three chains' first shots are submitted at once; a worker takes one
        # shot at a time (limit 1) and holds at most one more while busy, so the other worker gets
        # one of them; each next shot of a chain is submitted when the one before it ends.
        project = "chains"
        run = subprocess.run([*render, str(homes["workers"] / "film" / "storyboard.yaml"), "--project", project,
                              "--home", str(homes["workers"]), "--workers"],
                             cwd=ROOT, env=client_env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert json.loads(run.stdout)["cut"]["frames"] == 6 * 49
        distributed = _shots(postgres["storyreel"], project)
        assert len([p for p in results.rglob("*") if p.is_file()]) >= 6  # a result per shot went through it
        assert len(list(store.glob(f"{project}/takes/*/take-001.mp4"))) == 6  # every take reached the store
        rendered_here = {p.parent.name for w in ("w1", "w2") for p in (homes[w] / project / "takes").rglob("take-001.mp4")}
        assert rendered_here == {"a1", "a2", "b1", "b2", "c1", "c2"}  # rendered on the workers' hosts
        loads = Counter(t[1] for ts in distributed.values() for t in ts if t[2] > 0)
        # the same storyboard in one process (no workers), SQLite
        single_url = f"sqlite:///{homes['single'] / 'storyreel.db'}"
        single_env = {k: v for k, v in client_env.items() if k not in ("STORYREEL_STORE", "STORYREEL_RESULTS")}
        local = subprocess.run([*render, str(homes["single"] / "film" / "storyboard.yaml"), "--project", "chains", "--home", str(homes["single"])],
                               cwd=ROOT, env={**single_env, "STORYREEL_DATABASE_URL": single_url}, capture_output=True, text=True, timeout=600)
        assert local.returncode == 0, local.stderr[-3000:]
        single = _shots(single_url, "chains")
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(60)

    takes = [t for ts in distributed.values() for t in ts]
    assert _overlap(distributed), f"chains did not overlap across two workers: {distributed}"
    assert sorted(loads.values()) == [1, 1], loads  # each worker loaded the model once
    # identical results: same seeds, identical last frames
    assert {k: [(t[0], t[3]) for t in v] for k, v in distributed.items()} == {k: [(t[0], t[3]) for t in v] for k, v in single.items()}
    assert hashlib.sha256(b"").hexdigest() not in {t[3] for t in takes}
