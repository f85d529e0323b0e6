"""Several processes, one project: leases, queued re-renders, unique cuts, clean stops, healing.

Real `storyreel` processes against one database (SQLite and PostgreSQL), the session's
Prefect API, tiny random models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from production.store import transaction
from storage.db import open_database
from storage.repo import get_project, live_shots
from storage.schema import Cut, Lease, Take
from tests.conftest import FILM_BOARD, ROOT

pytestmark = pytest.mark.slow

# Takes of about half a second: long enough to act on a render while it runs.
SLOW = (FILM_BOARD.replace("width: 32", "width: 48").replace("height: 32", "height: 48").replace("steps: 2", "steps: 6")
        .replace("duration: 1,", "duration: 2,").replace("duration: 0.5}", "duration: 2}").replace(", thresholds: {flicker: 1.01}", ""))


def storyreel(*args: str) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "storyreel"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "flows.cli", *args]


@pytest.fixture
def team_db(tmp_path: Path, demo_home: Path, db_url: str, prefect_harness) -> dict:
    """`team` on SQLite and on PostgreSQL: for the races the database itself decides."""
    return _team(tmp_path, demo_home, db_url)


@pytest.fixture
def team(tmp_path: Path, demo_home: Path, prefect_harness) -> dict:
    """A project folder, a home with tiny random models, a SQLite database, and an environment
    in which `storyreel` processes share all three and the session's Prefect API."""
    return _team(tmp_path, demo_home, f"sqlite:///{demo_home / 'storyreel.db'}")


def _team(tmp_path: Path, demo_home: Path, db_url: str) -> dict:
    from prefect.settings import PREFECT_API_URL

    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(SLOW.replace("  audio: bed.wav\n", ""))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "STORYREEL_DATABASE_URL": db_url,
           "STORYREEL_HOME": str(demo_home), "HF_HUB_OFFLINE": "1", "PREFECT_LOGGING_LEVEL": "ERROR"}
    return {"board": folder / "storyboard.yaml", "home": demo_home, "url": db_url, "env": env, "folder": folder}


def _start(team: dict, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(storyreel(*args), env={**team["env"], **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _run(team: dict, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(storyreel(*args), env={**team["env"], **env}, capture_output=True, text=True, timeout=timeout)


def _takes(team: dict) -> dict[str, list[Take]]:
    with transaction(open_database(team["url"])) as s:
        return {shot.key: list(shot.takes) for shot in live_shots(s, get_project(s, "film"))}


def _count(team: dict, model: type) -> int:
    with transaction(open_database(team["url"])) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def _wait_for(predicate, timeout: float = 120) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except Exception:  # the database may not exist yet
            pass
        time.sleep(0.1)
    return False


def _paused_runs() -> set:
    """Ids of the flow runs paused for a review on the session's Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
        return {run.id for run in client.read_flow_runs(flow_run_filter=paused)}


def _crash(run_ids: set) -> None:
    """Mark the runs of a killed process crashed, as a Prefect worker would, so that no other
    test waiting for a review pause on this server finds them."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            client.set_flow_run_state(run_id, Crashed(message="killed by the test"), force=True)


def _rendering(team: dict) -> bool:
    return any(t.status == "rendering" for ts in _takes(team).values() for t in ts)


def test_two_renders_started_together_one_renders_the_other_refuses(team_db: dict) -> None:
    team = team_db
    procs = [_start(team, "render", str(team["board"]), "--no-review", "--json") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    refused = next(err for p, (_, err) in zip(procs, outs) if p.returncode == 1)
    assert "project 'film' is busy" in refused and "(render) since" in refused and "Traceback" not in refused
    assert {k: len(v) for k, v in _takes(team).items()} == {"a": 1, "b": 1, "c": 1}  # rendered once
    assert _count(team, Cut) == 1
    # --wait: waits for a render holding the project (here re-rendering an edited c), then
    # finds nothing left to do and writes no new cut
    team["board"].write_text(team["board"].read_text().replace("a blue square", "a blue square spins"))
    first = _start(team, "render", str(team["board"]), "--no-review")
    assert _wait_for(lambda: _rendering(team))
    waited = _run(team, "render", str(team["board"]), "--no-review", "--wait", "--json")
    first.communicate(timeout=300)
    assert first.returncode == 0 and waited.returncode == 0, waited.stderr
    summary = json.loads(waited.stdout)
    assert summary["shots"] == [] and summary["cut"]["unchanged"] is True
    assert {k: len(v) for k, v in _takes(team).items()} == {"a": 1, "b": 1, "c": 2} and _count(team, Cut) == 2


def _queued(team: dict) -> bool:
    from storage.schema import RenderRequest

    with transaction(open_database(team["url"])) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(RenderRequest).where(RenderRequest.status == "queued")) > 0


def test_a_rerender_during_a_render_is_taken_by_it_and_every_shot_stays_current(team_db: dict, tmp_path: Path) -> None:
    team = team_db
    # the render waits inside its first take until the re-render is queued (tests/gate)
    gate = tmp_path / "gate"
    render = _start(team, "render", str(team["board"]), "--no-review", "--json",
                    STORYREEL_TEST_GATE=str(gate), PYTHONPATH=str(ROOT / "tests" / "gate"))
    assert _wait_for(lambda: _rendering(team)), render.stderr.read() if render.poll() is not None else "no take started"
    rerender = _start(team, "rerender", "film", "b", "--seed", "4242", "--json")
    assert _wait_for(lambda: _queued(team) or rerender.poll() is not None), "no request queued"
    gate.touch()
    out, err = render.communicate(timeout=300)
    said, told = rerender.communicate(timeout=300)
    assert render.returncode == 0, err
    assert rerender.returncode == 0, told
    assert "b: queued for the render holding project 'film'" in said
    takes = _takes(team)
    assert 4242 in [t.seed for t in takes["b"]]  # the render took the request
    assert all(t.owner == takes["a"][0].owner for t in takes["b"])  # by the same render (one lease token)
    status = json.loads(_run(team, "status", "film", "--json").stdout)
    assert all(r["current"] for r in status), status
    assert all(r["lease"] is None for r in status)  # released


def test_a_killed_render_is_recovered_after_its_lease_expires_and_a_live_one_is_never_touched(team_db: dict) -> None:
    team = team_db
    # another host's render (as far as leases know): only its lease's expiry frees the project
    env = {"STORYREEL_HOST": "host-a", "STORYREEL_LEASE_SECONDS": "4"}
    before = _paused_runs()
    # the first render stores its first shot and waits for a person's review of it: alive, with
    # files to lose, for as long as the test needs (a kill mid-take is test_resume_after_kill_9's)
    render = _start(team, "render", str(team["board"]), "--review", "shot", "--review-timeout", "600", **env)
    assert _wait_for(lambda: _paused_runs() - before), render.stderr.read() if render.poll() is not None else "no review pause"
    waiting = _paused_runs() - before
    staging = team["home"] / "film" / ".staging"
    live = {p: p.read_bytes() for p in (team["home"] / "film").rglob("*") if p.is_file()}
    assert any(p.suffix == ".mp4" for p in live), sorted(live)
    # a second render on "host-b" while the first is alive: refused, the first one's files untouched
    busy = _run(team, "render", str(team["board"]), "--no-review", STORYREEL_HOST="host-b", STORYREEL_LEASE_SECONDS="4")
    assert busy.returncode == 1 and "busy" in busy.stderr
    assert {p: p.read_bytes() for p in (team["home"] / "film").rglob("*") if p.is_file()} == live
    os.killpg(render.pid, signal.SIGKILL)
    render.wait()
    _crash(waiting)
    said = render.stdout.read() + render.stderr.read()
    assert "waiting for review of a (project film)" in said, said  # the terminal said what waits
    started = time.monotonic()
    rerun = _run(team, "render", str(team["board"]), "--no-review", "--wait", "--json", STORYREEL_HOST="host-b", STORYREEL_LEASE_SECONDS="4")
    assert rerun.returncode == 0, rerun.stderr
    assert time.monotonic() - started >= 1.0  # it waited for the expiry
    takes = [t for ts in _takes(team).values() for t in ts]
    assert not any(t.status in ("rendering", "rendered") for t in takes)
    assert all(p.exists() for p in live)  # the killed render's stored take is kept
    assert not staging.exists() or not any(staging.iterdir())
    assert all(r["current"] for r in json.loads(_run(team, "status", "film", "--json").stdout))


def test_concurrent_exports_make_distinct_cuts(team_db: dict) -> None:
    team = team_db
    assert _run(team, "render", str(team["board"]), "--no-review").returncode == 0
    exports = [_start(team, "export", "film", "--new", "--json") for _ in range(3)]
    results = [json.loads(p.communicate(timeout=300)[0]) for p in exports]
    assert all(p.returncode == 0 for p in exports)
    numbers = sorted(r["number"] for r in results)
    assert numbers == [2, 3, 4]  # the render's cut is 1
    with transaction(open_database(team["url"])) as s:
        cuts = s.scalars(sa.select(Cut).order_by(Cut.number)).all()
        assert [c.status for c in cuts] == ["done"] * 4
        paths = [c.output_path for c in cuts]
    assert len(set(paths)) == 4
    from storage.artifacts import ArtifactStore

    store = ArtifactStore(team["home"])
    with transaction(open_database(team["url"])) as s:
        assert all(store.verify(c.output_path, c.sha256) == "ok" for c in s.scalars(sa.select(Cut)))
    # no empty staging folders left behind; takes and cuts readable as the umask says (not 0600)
    staging = team["home"] / "film" / ".staging"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    from shots.files import process_umask

    want = 0o666 & ~process_umask()
    media = [*(team["home"] / "film" / "cuts").glob("*.mp4"), *(team["home"] / "film" / "takes").rglob("*.mp4")]
    assert media and {p.stat().st_mode & 0o777 for p in media} == {want}


def test_an_unchanged_render_writes_no_cut_and_starts_no_prefect(team: dict) -> None:
    assert _run(team, "render", str(team["board"]), "--no-review").returncode == 0
    cuts = _count(team, Cut)
    # a Prefect URL nothing answers: an unchanged render must not need it
    again = _run(team, "render", str(team["board"]), "--no-review", "--json", PREFECT_API_URL="http://127.0.0.1:9/api")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["prefect"] is False and summary["cut"]["unchanged"] is True and summary["shots"] == []
    assert _count(team, Cut) == cuts
    # a deleted chosen take: the next render makes it again (its chain follows when its frames differ), exit 0
    take = _takes(team)["c"][0]
    (team["home"] / take.media_path).unlink()
    healed = _run(team, "render", str(team["board"]), "--no-review", "--json")
    assert healed.returncode == 0, healed.stderr
    assert json.loads(healed.stdout)["healed"] == ["c: take 1's file is missing"]
    assert [t.status for t in _takes(team)["c"]] == ["lost", "scored"]


def test_status_shows_the_lease_while_a_render_holds_it(team: dict) -> None:
    render = _start(team, "render", str(team["board"]), "--no-review")
    assert _wait_for(lambda: _rendering(team))
    rows = json.loads(_run(team, "status", "film", "--json").stdout)
    render.communicate(timeout=300)
    lease = rows[0]["lease"]
    assert lease is not None and lease["holder"].endswith(f":{render.pid}") and lease["purpose"] == "render"
    assert _count(team, Lease) == 0  # released at the end


def test_sigkill_during_a_rerender_of_an_approved_shot_leaves_it_approved(team: dict) -> None:
    assert _run(team, "render", str(team["board"]), "--no-review").returncode == 0
    assert _run(team, "approve", "film", "b").returncode == 0
    rerender = _start(team, "rerender", "film", "b")
    assert _wait_for(lambda: _rendering(team))
    os.killpg(rerender.pid, signal.SIGKILL)
    rerender.wait()
    rows = {r["id"]: r for r in json.loads(_run(team, "status", "film", "--json").stdout)}
    assert rows["b"]["current"] and rows["b"]["chosen_take"] == 1
    again = _run(team, "render", str(team["board"]), "--no-review", "--json")  # recovers the killed take
    assert again.returncode == 0, again.stderr
    rows = {r["id"]: r for r in json.loads(_run(team, "status", "film", "--json").stdout)}
    assert (rows["b"]["status"], rows["b"]["verdict"], rows["b"]["chosen_take"]) == ("approved", "approved", 1)
    assert [t.status for t in _takes(team)["b"]] == ["scored", "failed"]


def _servers() -> set[int]:
    """Prefect API server processes on this machine (ours and the test harness's)."""
    out = subprocess.run(["pgrep", "-f", "prefect.server.api.server:create_app"], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def _session_alive(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True).stdout
    return [int(pid) for pid, s in (line.split() for line in out.splitlines()) if int(s) == sid]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_take_stops_the_render_within_seconds_and_the_next_render_resumes(team: dict, sig: int,
                                                                                     tmp_path: Path) -> None:
    # the signal lands inside the model's first layer (tests/gate), however busy the machine is
    gate = tmp_path / "gate"
    render = _start(team, "render", str(team["board"]), "--no-review",
                    STORYREEL_TEST_GATE=str(gate), PYTHONPATH=str(ROOT / "tests" / "gate"))
    assert _wait_for(lambda: (Path(f"{gate}.reached").exists() and _rendering(team)) or render.poll() is not None)
    assert render.poll() is None, render.stderr.read() if render.stderr else ""
    sent = time.monotonic()
    os.kill(render.pid, sig)  # the gate opens on the stop the signal asks for
    _, err = render.communicate(timeout=30)
    assert time.monotonic() - sent < 3  # within a layer of the model, not a denoising step
    assert render.returncode == 130 and "Traceback" not in err and "stopped" in err, err
    assert _session_alive(render.pid) == []  # nothing left of its process group
    takes = [t for ts in _takes(team).values() for t in ts]
    assert any(t.status == "failed" and (t.error or "").startswith("interrupted") for t in takes)
    assert not any(t.status in ("rendering", "rendered") for t in takes)
    assert _count(team, Lease) == 0
    staging = team["home"] / "film" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())
    again = _run(team, "render", str(team["board"]), "--no-review", "--json")
    assert again.returncode == 0, again.stderr
    assert all(r["current"] for r in json.loads(_run(team, "status", "film", "--json").stdout))


def test_a_signal_while_storyreel_starts_prefect_leaves_no_server_behind(team: dict) -> None:
    before = _servers()
    env = {k: v for k, v in team["env"].items() if k != "PREFECT_API_URL"}
    render = subprocess.Popen(storyreel("render", str(team["board"]), "--no-review"), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert _wait_for(lambda: _servers() - before, timeout=60), "storyreel started no Prefect server"
    sent = time.monotonic()
    render.send_signal(signal.SIGINT)
    _, err = render.communicate(timeout=30)
    assert time.monotonic() - sent < 10 and render.returncode == 130 and "Traceback" not in err, err
    assert _wait_for(lambda: not (_servers() - before), timeout=10)  # stopped with the CLI
    # SIGKILL, which no handler sees: the server dies with the CLI all the same
    render = subprocess.Popen(storyreel("render", str(team["board"]), "--no-review"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    assert _wait_for(lambda: _servers() - before, timeout=60)
    os.killpg(render.pid, signal.SIGKILL)
    render.wait()
    assert _wait_for(lambda: not (_servers() - before), timeout=10)
    assert _count(team, Lease) <= 1  # the killed CLI's lease, reclaimed by the next render at once


def test_a_second_ctrl_c_exits_at_once(team: dict) -> None:
    render = _start(team, "render", str(team["board"]), "--no-review")
    assert _wait_for(lambda: _rendering(team))
    render.send_signal(signal.SIGINT)
    render.send_signal(signal.SIGINT)
    render.communicate(timeout=10)
    assert render.returncode in (130, -signal.SIGINT)
    assert _run(team, "render", str(team["board"]), "--no-review").returncode == 0


def test_a_prefect_server_that_does_not_start_in_time_is_one_line(team: dict) -> None:
    env = {k: v for k, v in team["env"].items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "1"
    before = _servers()
    proc = subprocess.run(storyreel("render", str(team["board"]), "--no-review"), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "did not start within 1 s" in lines[0] and "PREFECT_API_URL" in lines[0], proc.stderr
    assert _wait_for(lambda: not (_servers() - before), timeout=10)
    assert _count(team, Lease) == 0


def test_prefect_logs_handled_errors_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect's console handler prints a failed run's exception with its traceback; a handled
    error (storyreel's own, or a machine fault) keeps its line and loses the traceback."""
    import logging

    from production.faults import hide_handled_tracebacks
    from shots.errors import TransientGenerationError

    stream = __import__("io").StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        hide_handled_tracebacks()
        log = logging.getLogger("prefect.storyreel_test")  # a Prefect logger, on the console handler
        for error in (TransientGenerationError("out of GPU memory"), OSError(28, "No space left on device"), ValueError("a bug")):
            try:
                raise error
            except Exception:
                log.error("Task run failed with exception: %r", error, exc_info=True)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "out of GPU memory" in text and "No space left" in text
    assert text.count("Traceback") == 1 and "ValueError: a bug" in text  # only the bug keeps it
