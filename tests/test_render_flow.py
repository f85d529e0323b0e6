"""The render flow end to end: tiny model, real Prefect API, real ffmpeg, SQLite."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from production.context import RenderJob
from production.export import export_cut
from production.store import project_status, transaction
from generation.encode import probe
from shots.errors import Conflict
from shots.graph import take_seed
from storage.artifacts import ArtifactStore
from storage.db import open_database
from storage.repo import get_project, live_shots
from storage.schema import Cut, Score, Take
from tests.conftest import FILM_BOARD, ROOT, run_cli

pytestmark = pytest.mark.slow

BOARD = FILM_BOARD




def _render(job: RenderJob) -> dict:
    from flows.render_flow import render_flow

    state = render_flow(job, return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, dict), state.message
    return summary


def _takes(film: dict) -> dict[str, list[Take]]:
    with transaction(open_database(film["url"])) as s:
        return {shot.key: list(shot.takes) for shot in live_shots(s, get_project(s, "film"))}


def test_render_end_to_end(prefect_harness, film: dict) -> None:
    summary = _render(film["job"])
    # the cut: Σ frames − crossfade overlap, at the asked fps, with the audio bed
    assert summary["cut"]["frames"] == 17 + 17 + 9 - 4
    info = probe(Path(summary["cut"]["path"]))
    assert (info.frames, info.fps, info.has_audio) == (39, 16, True)
    takes = _takes(film)
    # b cannot pass (flicker ≤ 1 < 1.01): re-rolled with the next seed, up to max_takes
    assert [t.attempt for t in takes["b"]] == [1, 2]
    from shots import load_storyboard, plan_storyboard

    seed_b = plan_storyboard(load_storyboard(film["folder"] / "storyboard.yaml")).shot("b").seed
    assert [t.seed for t in takes["b"]] == [take_seed(seed_b, 0), take_seed(seed_b, 1)]
    assert len(takes["a"]) == len(takes["c"]) == 1
    with transaction(open_database(film["url"])) as s:
        scores = s.scalars(sa.select(Score)).all()
        assert {(sc.take_id, sc.metric) for sc in scores} >= {(t.id, "flicker") for ts in takes.values() for t in ts}
        assert s.scalar(sa.select(sa.func.count()).select_from(Cut)) == 1
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["passed"] is False and rows["a"]["passed"] is True
    assert rows["b"]["scores"]["boundary"]["passed"] is None  # measured, not judged
    store = ArtifactStore(film["home"])
    for ts in takes.values():
        for t in ts:
            assert store.verify(t.media_path, t.media_sha256) == "ok"
            assert t.timings["denoise"] > 0 and t.frame_count in (17, 9)

    # an unchanged storyboard renders nothing
    again = _render(film["job"])
    assert not any(r["rendered"] for r in again["shots"])
    assert {k: len(v) for k, v in _takes(film).items()} == {"a": 1, "b": 2, "c": 1}

    # editing one shot re-renders that shot and the rest of its chain only
    (film["folder"] / "storyboard.yaml").write_text(BOARD.replace("a red circle moves right", "a red circle moves left"))
    edited = _render(film["job"])
    assert sorted(r["shot"] for r in edited["shots"] if r["rendered"]) == ["a", "b"]
    assert len(_takes(film)["c"]) == 1

    # export refuses shots whose chosen take failed its checks, and lists them
    with pytest.raises(Conflict, match="b: chosen take failed its checks"):
        export_cut(film["settings"], "film")
    cut = export_cut(film["settings"], "film", otio=film["folder"] / "cut.otio", allow_unapproved=True)
    import opentimelineio as otio

    track = otio.adapters.read_from_file(str(film["folder"] / "cut.otio")).tracks[0]
    assert [c.name.split()[0] for c in track.find_clips()] == ["a", "b", "c"]
    assert track.duration().to_frames() == cut.frames == 39


def test_rerender_only_that_shot_then_cascade(prefect_harness, film: dict) -> None:
    _render(film["job"])
    before = {k: len(v) for k, v in _takes(film).items()}
    job = film["job"].model_copy(update={"only": ("a",), "force": True})
    summary = _render(job)
    after = {k: len(v) for k, v in _takes(film).items()}
    assert after == {**before, "a": before["a"] + 1}  # nothing else rendered
    assert list(summary["stale_downstream"]) == ["b"]  # listed with its estimated cost
    assert summary["stale_downstream"]["b"] > 0
    assert summary["cut"] is None and summary["not_in_cut"] == ["b"]  # no cut with a stale take
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["status"] == "stale" and rows["b"]["stale_reason"] == "upstream a has a new take"
    assert rows["c"]["status"] == "scored" and not rows["c"]["stale"]
    cascade = film["job"].model_copy(update={"only": ("a",), "force": True, "cascade": True, "seed": 77})
    _render(cascade)
    final = _takes(film)
    assert final["a"][-1].seed == 77
    assert len(final["b"]) > after["b"] and len(final["c"]) == after["c"]


def test_cli_render_exits_nonzero_and_names_a_failed_shot(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    board = BOARD.replace("  max_takes: 2\n", "  max_takes: 1\n  width: 40\n").replace("  width: 32\n", "", 1)
    (film["folder"] / "storyboard.yaml").write_text(board)
    code, _, err = run_cli("render", str(film["folder"] / "storyboard.yaml"), "--home", str(film["home"]))
    assert code == 2 and "settings.width: 40 is not allowed" in err  # bad input: before any work


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_resume_after_kill_9(prefect_harness, film: dict) -> None:
    from prefect.settings import PREFECT_API_URL

    board = BOARD.replace("width: 32", "width: 64").replace("height: 32", "height: 64").replace("steps: 2", "steps: 6")
    board = board.replace("duration: 1,", "duration: 3,").replace("duration: 0.5}", "duration: 3}")
    board = board.replace(", thresholds: {flicker: 1.01}", "")  # every shot can pass: the rerun exits 0
    (film["folder"] / "storyboard.yaml").write_text(board)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "STORYREEL_DATABASE_URL": film["url"], "HF_HUB_OFFLINE": "1"}
    exe = ROOT / ".venv" / "bin" / "storyreel"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "flows.cli"]),
           "render", str(film["folder"] / "storyboard.yaml"), "--project", "film", "--home", str(film["home"]), "--no-review", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def one_scored() -> bool:
        try:
            takes = _takes(film)
        except Exception:
            return False
        return any(t.status == "scored" for ts in takes.values() for t in ts)

    assert _wait_for(one_scored, 240), proc.stderr.read().decode() if proc.poll() is not None else "no take scored"
    os.killpg(proc.pid, signal.SIGKILL)  # mid-render: other takes are being rendered
    proc.wait()
    before = {t.id: (t.status, t.media_sha256) for ts in _takes(film).values() for t in ts}
    scored_before = {i for i, (st, _) in before.items() if st == "scored"}
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout)
    after = {t.id: t for ts in _takes(film).values() for t in ts}
    assert all(after[i].status == "scored" and after[i].media_sha256 == before[i][1] for i in scored_before)  # kept
    assert not any(t.status in ("rendering", "rendered") for t in after.values())  # nothing half-done
    store = ArtifactStore(film["home"])
    assert not list((film["home"] / "film" / ".staging").glob("*")) if (film["home"] / "film" / ".staging").exists() else True
    for t in after.values():
        if t.status == "scored":
            assert store.verify(t.media_path, t.media_sha256) == "ok"
    assert summary["cut"]["frames"] == 49 + 49 + 49 - 4


def test_resume_picks_up_a_take_scored_before_the_process_stopped(prefect_harness, film: dict) -> None:
    """Killed after shot a's take was scored but before the shot chose it: the next run chooses
    that take without rendering another (the state `test_resume_after_kill_9` hits by timing)."""
    _render(film["job"])
    with transaction(open_database(film["url"])) as s:
        shot = next(x for x in live_shots(s, get_project(s, "film")) if x.key == "a")
        shot.chosen_take_id, shot.status = None, "rendering"
    summary = _render(film["job"])
    assert [r["shot"] for r in summary["shots"] if r.get("error")] == []
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["a"]["status"] == "scored" and rows["a"]["chosen_take"] == 1
    assert {k: len(v) for k, v in _takes(film).items()} == {"a": 1, "b": 2, "c": 1}  # nothing rendered again


def test_an_edit_taken_back_chooses_the_take_already_rendered_for_it(prefect_harness, film: dict) -> None:
    _render(film["job"])
    board = film["folder"] / "storyboard.yaml"
    board.write_text(BOARD.replace("a red circle moves right", "a red circle moves left"))
    _render(film["job"])
    board.write_text(BOARD)  # back to the first prompt: shot a's take 1 was rendered from it
    summary = _render(film["job"])
    assert [r["shot"] for r in summary["shots"] if r.get("error")] == []
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["a"]["status"] == "scored" and rows["a"]["chosen_take"] == 1 and rows["a"]["current"]
    assert len(_takes(film)["a"]) == 2  # take 1 chosen again, nothing new rendered for a


def test_a_forced_rerender_that_keeps_the_chosen_take_leaves_the_shot_approved(prefect_harness, film: dict) -> None:
    """An approved shot re-rendered with --force: a new take that fails its checks, or an error
    before any take (its start frame is gone), keeps the approved take and the approval."""
    from storage.repo import add_review, get_project_shot

    _render(film["job"])
    with transaction(open_database(film["url"])) as s:
        shot = get_project_shot(s, "film", "b")
        add_review(s, shot, "approve")
        chosen = shot.chosen_take.attempt
    forced = film["job"].model_copy(update={"only": ("b",), "force": True})
    summary = _render(forced)  # b cannot pass its flicker threshold
    (b,) = summary["shots"]
    assert (b["chosen"], b["reason"], b["error"]) == (chosen, "kept_previous", None)
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["status"] == "approved" and rows["b"]["chosen_take"] == chosen and rows["b"]["current"]
    assert len(_takes(film)["b"]) == 3

    start = _takes(film)["a"][0]  # b continues a's chosen take
    ArtifactStore(film["home"]).local(start.media_path).unlink()
    summary = _render(forced)
    (b,) = summary["shots"]
    assert "continues a" in b["error"] and "missing" in b["error"]  # a's take was found lost
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    # b's approved take is kept, but stale: what it continues is gone until a is rendered again
    assert rows["b"]["status"] == "stale" and rows["b"]["chosen_take"] == chosen
    assert len(_takes(film)["b"]) == 3

    with transaction(open_database(film["url"])) as s:  # rejected: no chosen take to keep
        add_review(s, get_project_shot(s, "film", "b"), "reject")
    (b,) = _render(forced)["shots"]
    assert "continues a" in b["error"] and b["chosen"] is None
    assert {r["id"]: r for r in project_status(film["settings"], "film")}["b"]["status"] == "failed"


def test_a_lost_chosen_take_is_rendered_again_with_its_chain(prefect_harness, film: dict) -> None:
    """A chosen take whose file was deleted is marked lost (kept in history); the next render
    makes that shot again, says so, and renders every later shot of its chain whose start
    changed — none when the same seed gives the same frames again."""
    _render(film["job"])
    before = _takes(film)
    store = ArtifactStore(film["home"])
    store.local(before["a"][0].media_path).unlink()
    summary = _render(film["job"])
    assert summary["healed"] == ["a: take 1's file is missing"]
    assert sorted(r["shot"] for r in summary["shots"] if r["rendered"]) == ["a"]
    after = _takes(film)
    assert [t.status for t in after["a"]] == ["lost", "scored"]
    assert after["a"][1].media_sha256 == before["a"][0].media_sha256  # same seed, same frames
    assert {k: len(v) for k, v in after.items()} == {"a": 2, "b": 2, "c": 1}  # b still continues the same frame
    # a re-rendered with another seed is chosen and b rendered on it; when that take's file is
    # edited, a's earlier passing take is chosen again, and so is b's take that continued it
    _render(film["job"].model_copy(update={"only": ("a",), "force": True, "seed": 77, "cascade": True}))
    chosen = _takes(film)["a"][-1]
    b_takes = len(_takes(film)["b"])
    assert b_takes > len(after["b"])  # b was rendered on the new start
    store.local(chosen.media_path).write_bytes(b"edited by someone")
    summary = _render(film["job"])
    assert summary["healed"] == [f"a: take {chosen.attempt}'s file is changed"]
    final = _takes(film)
    assert final["a"][-1].status == "lost" and len(final["b"]) == b_takes and len(final["c"]) == 1  # nothing rendered
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["a"]["chosen_take"] == 2 and rows["a"]["current"] and rows["b"]["current"]
    assert rows["b"]["chosen_take"] <= len(after["b"])  # one of the takes made on a's first frames
    assert summary["cut"] is not None


@contextlib.contextmanager
def _out_of_memory(times: int | None):
    """The denoiser's first forward of each pipeline call raises ``torch.OutOfMemoryError`` (a
    real error from inside the pipeline call, raised by a torch forward hook), ``times`` calls
    in a row (None: every call)."""
    import torch

    raised = {"n": 0}

    def hook(module, args):  # type: ignore[no-untyped-def]
        if type(module).__name__.endswith("Transformer3DModel") and (times is None or raised["n"] < times):
            raised["n"] += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield raised
    finally:
        handle.remove()


def _ladder(film: dict, device: str, times: int | None) -> tuple[list[Take], dict]:
    from generation.loading import PIPELINES

    PIPELINES.clear()
    film["folder"].joinpath("storyboard.yaml").write_text(BOARD.replace("  seed: 1\n", f"  seed: 1\n  device: {device}\n", 1))
    job = film["job"].model_copy(update={"export": False, "only": ("a",)})
    with _out_of_memory(times):
        summary = _render(job)
    return _takes(film)["a"], summary


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_each_out_of_memory_error_steps_one_rung_down_the_ladder(prefect_harness, film: dict, device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from generation.loading import PIPELINES

    rungs = ["full", "fp8_storage"] + (["model_offload", "group_offload"] if device == "cuda" else [])
    takes, _ = _ladder(film, device, times=len(rungs) - 1)
    assert [t.status for t in takes] == ["failed"] * (len(rungs) - 1) + ["scored"]
    assert all(t.error.startswith("transient: out of GPU memory") for t in takes[:-1])
    assert [t.params["memory"] for t in takes] == rungs  # one rung down per error, never back up
    assert {o.memory: o.vae_tiling for (_, o) in PIPELINES.loads} == {"auto": False, **{m: True for m in rungs[1:]}}


def test_out_of_memory_at_the_bottom_of_the_ladder_fails_the_shot_on_record(prefect_harness, film: dict) -> None:
    takes, summary = _ladder(film, "cpu", times=None)
    assert [t.params["memory"] for t in takes] == ["full", "fp8_storage", "fp8_storage", "fp8_storage"]  # the CPU's bottom
    assert all(t.status == "failed" and "out of GPU memory" in t.error for t in takes)
    row = {r["shot"]: r for r in summary["shots"]}["a"]
    assert "out of GPU memory" in row["error"], summary
    assert {r["id"]: r["status"] for r in project_status(film["settings"], "film")}["a"] == "failed"  # not left rendering


def test_gpu_slot_bounds_renders_across_threads_and_processes(prefect_harness) -> None:
    import threading

    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    from flows.slots import gpu_slot, limit_name

    inside, most = [0], [0]
    lock = threading.Lock()

    def render() -> None:
        with gpu_slot("cuda:7", across_processes=True):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.3)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=render) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most[0] == 1  # threads of one process
    # another process (no shared semaphore) waits on the Prefect limit itself
    released: list[float] = []

    def hold() -> None:
        with gpu_slot("cuda:7", across_processes=True):
            time.sleep(1.0)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.3)
    with concurrency(limit_name("cuda:7"), occupy=1, strict=True):
        acquired = time.monotonic()
    holder.join(30)
    assert released and acquired >= released[0]
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(limit_name("cuda:7"))
    assert limit.limit == 1


def test_a_failing_shot_is_recorded_and_the_cli_exits_1_without_a_traceback(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import production.work
    from shots.errors import GenerationError

    def broken(loaded, request, fps, progress=None, text_only=False, interrupt=None):  # type: ignore[no-untyped-def]
        if "grows" in request.prompt:
            raise GenerationError("the model produced NaNs")
        return real(loaded, request, fps, progress, text_only)

    real = production.work.render_take
    monkeypatch.setattr(production.work, "render_take", broken)
    monkeypatch.setenv("STORYREEL_DATABASE_URL", film["url"])
    code, out, err = run_cli("render", str(film["folder"] / "storyboard.yaml"), "--project", "film", "--home", str(film["home"]))
    assert code == 1
    assert "b: the model produced NaNs" in err and "Traceback" not in err + out
    takes = _takes(film)
    assert [t.error for t in takes["b"]] == ["the model produced NaNs"] * 2  # every attempt recorded
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["status"] == "failed" and rows["a"]["status"] == "scored" and rows["c"]["status"] == "scored"


def test_an_error_before_any_take_fails_the_shot_not_the_flow(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import production.work
    from shots.errors import GenerationError

    import production.inputs

    real = production.inputs.start_frame

    def no_start(ctx, session, planned, previous=None):  # type: ignore[no-untyped-def]
        if planned.id == "c":
            raise GenerationError("the keyframe model is gone")
        return real(ctx, session, planned, previous)

    monkeypatch.setattr(production.inputs, "start_frame", no_start)
    from flows.render_flow import render_flow

    state = render_flow(film["job"], return_state=True)
    assert state.is_failed() and "c: the keyframe model is gone" in state.message
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["c"]["status"] == "failed" and rows["c"]["takes"] == 0
    assert rows["a"]["status"] == "scored"


def test_unreadable_reference_image_is_refused_before_rendering(film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    (film["folder"] / "red.png").write_bytes(b"not a png at all")
    board = BOARD.replace("red: {description: a red circle}", "red: {description: a red circle, reference: red.png}")
    (film["folder"] / "storyboard.yaml").write_text(board)
    monkeypatch.setenv("STORYREEL_DATABASE_URL", film["url"])
    code, out, err = run_cli("render", str(film["folder"] / "storyboard.yaml"), "--home", str(film["home"]))
    assert code == 2 and "characters.red.reference: reference image 'red.png' cannot be read" in err
    assert "Traceback" not in err + out


def test_a_shot_rendered_on_a_worker_renews_the_flows_lease(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a task worker the flow's own heartbeat is in another process: the worker renews the
    lease while the shot renders. The shot's model waits, inside the pipeline call, until the
    lease shows a heartbeat — so without the worker's renewal the shot fails the test."""
    import threading

    import torch

    from production.leases import try_acquire
    from storage.leases import Holder
    from storage.schema import Lease
    from storage.tracking import ensure_project

    monkeypatch.setenv("STORYREEL_LEASE_SECONDS", "1")
    monkeypatch.setenv("STORYREEL_WORKER_HOME", str(film["home"]))  # this process is a worker
    engine = open_database(film["url"], create=True)
    with transaction(engine) as s:
        ensure_project(s, "film", film["folder"] / "storyboard.yaml")
    holder = Holder.here()  # the flow's lease, taken by no heartbeat of this process
    assert try_acquire(engine, "film", "project", holder, "render") is None
    with transaction(engine) as s:
        taken = s.scalar(sa.select(Lease.heartbeat_at).where(Lease.token == holder.token))
    renewed = threading.Event()
    deadline = time.monotonic() + 60  # the first layer waits for the renewal, at most this long

    def wait_for_renewal(module, args):  # type: ignore[no-untyped-def]
        while not renewed.is_set() and time.monotonic() < deadline:
            with transaction(engine) as s:
                if s.scalar(sa.select(Lease.heartbeat_at).where(Lease.token == holder.token)) > taken:
                    renewed.set()
            time.sleep(0.1)

    handle = torch.nn.modules.module.register_module_forward_pre_hook(wait_for_renewal)
    try:
        from flows.contexts import render_context
        from production.context import with_revision
        from flows.render_flow import render_shot_task
        from production.runs import prepare

        job = with_revision(film["job"].model_copy(update={"lease_token": holder.token, "export": False}))
        prepare(render_context(job))  # the flow's part: the storyboard submitted
        result = render_shot_task.fn(job, "a")
    finally:
        handle.remove()
    assert renewed.is_set() and result["chosen"] == 1, result


def test_render_with_workers_and_none_registered_renders_in_its_own_process(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.workers import worker_id

    monkeypatch.setenv("STORYREEL_WORKER_WAIT", "1")  # waits this long for a worker to register
    started = time.monotonic()
    summary = _render(film["job"].model_copy(update={"workers": True, "export": False, "only": ("a",)}))
    assert [r["shot"] for r in summary["shots"] if r["rendered"]] == ["a"] and time.monotonic() - started >= 1
    assert {t.params["worker"] for t in _takes(film)["a"]} == {worker_id()}  # rendered here
