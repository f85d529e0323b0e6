"""Pre-production stills: keyframes and character sheets made, scored, re-rolled, stale by
exactly the edits that change them, approved, and used by the render (start and end frames by
value, sheets as identity anchors)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from production.store import transaction
from storage.anchors import current_anchors
from storage.artifacts import ArtifactStore
from storage.db import open_database
from storage.repo import get_project, live_shots
from storage.stills import project_stills
from tests.conftest import run_cli

NO_CHECKS = "{prompt: null, color_drift: null, boundary: null, identity: null, temporal: null, motion: null, flicker: null}"
BOARD = f"""\
title: Stills
settings:
  model: tiny
  width: 32
  height: 32
  fps: 8
  steps: 2
  seed: 3
  max_takes: 2
  thresholds: {NO_CHECKS}
characters:
  red: {{description: a red circle}}
  blue: {{description: a blue square}}
scenes:
  - id: one
    shots:
      - {{id: a, prompt: a red circle moves right on a black background, characters: [red], duration: 1}}
      - {{id: b, prompt: a red circle grows on a black background, characters: [red], duration: 1}}
  - id: two
    shots:
      - {{id: c, prompt: a blue square moves up on a green background, characters: [blue], duration: 1}}
"""


@pytest.fixture
def board(tmp_path: Path, demo_home: Path) -> dict:
    folder = tmp_path / "film"
    folder.mkdir()
    path = folder / "storyboard.yaml"
    path.write_text(BOARD)
    return {"path": path, "home": demo_home, "url": f"sqlite:///{demo_home / 'storyreel.db'}"}


def _keyframes(board: dict, *extra: str) -> dict:
    code, out, err = run_cli("keyframes", str(board["path"]), "--home", str(board["home"]), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def _stills(board: dict) -> list:
    with transaction(open_database(board["url"])) as session:
        return project_stills(session, get_project(session, "film"))


def _image(store: ArtifactStore, still: object) -> np.ndarray:
    from PIL import Image

    with Image.open(store.path(still.image_path)) as image:  # type: ignore[attr-defined]
        return np.asarray(image.convert("RGB"))


def _slots(data: dict) -> dict[str, dict]:
    return {row["label"]: row for row in data["stills"]}


def test_keyframes_and_sheets_are_made_stored_and_scored(board: dict) -> None:
    data = _keyframes(board)
    slots = _slots(data)
    # a and c are cuts without a reference: a start keyframe each; b continues a; every character a sheet of three views
    assert sorted(slots) == sorted(["a start keyframe", "c start keyframe"]
                                   + [f"{c} sheet ({v})" for c in ("red", "blue") for v in ("front", "three-quarter", "full figure")])
    assert all(row["status"] == "passed" and len(row["takes"]) == 1 for row in slots.values())
    store = ArtifactStore(board["home"])
    for still in _stills(board):
        path = store.path(still.image_path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == still.sha256
        assert "prompt" in still.scores and still.passed is True and still.seconds > 0
        if still.kind == "keyframe":
            assert (still.width, still.height) == (32, 32)
            assert "identity" in still.scores  # judged against the sheet of its character made just before
    # the world draws the shot: a red circle on black, a blue square on green
    from generation.world import COLORS

    a = _image(store, next(s for s in _stills(board) if s.subject == "a"))
    assert np.median(a.reshape(-1, 3), axis=0).tolist() == list(COLORS["black"])
    assert (np.abs(a.astype(int) - COLORS["red"]).sum(-1) < 30).sum() > 20
    again = _keyframes(board)  # nothing changed: nothing made
    assert again["made"] == [] and len(again["kept"]) == 8 and len(_stills(board)) == 8


def test_failing_stills_are_rerolled_with_new_seeds_up_to_max_takes(board: dict) -> None:
    board["path"].write_text(BOARD.replace("prompt: null", "prompt: 9.9"))  # no still can pass
    data = _keyframes(board, "--only", "a")
    assert data["failed"] == ["a start keyframe"]
    takes = [s for s in _stills(board) if s.subject == "a"]
    assert [t.attempt for t in takes] == [1, 2] and len({t.seed for t in takes}) == 2
    assert not any(t.passed for t in takes) and len({t.sha256 for t in takes}) == 2  # another seed, another picture
    assert {s.subject for s in _stills(board)} == {"a"}  # --only


def test_an_edit_makes_exactly_its_stills_stale(board: dict) -> None:
    _keyframes(board)
    board["path"].write_text(BOARD.replace("a blue square moves up", "a blue square moves down"))
    data = _keyframes(board)
    assert data["made"] == ["c start keyframe"]
    board["path"].write_text(BOARD.replace("red: {description: a red circle}", "red: {description: a red triangle}"))
    data = _keyframes(board)
    # red's description is in its sheet and in a's composed prompt; b has no keyframe; blue is untouched, and c's
    # prompt is back to "moves up", whose first take is current again
    assert sorted(data["made"]) == sorted(["red sheet (front)", "red sheet (three-quarter)", "red sheet (full figure)",
                                           "a start keyframe"])
    assert _slots(data)["c start keyframe"]["chosen"] == 1
    counts = {}
    for still in _stills(board):
        counts[(still.subject, still.role)] = counts.get((still.subject, still.role), 0) + 1
    assert counts[("blue", "front")] == 1 and counts[("red", "front")] == 2 and counts[("a", "start")] == 2


def test_approving_a_sheet_makes_it_the_anchor_and_identity_is_scored_everywhere(prefect_harness, board: dict) -> None:
    """The lighthouse case: no take of a character's first appearance passes (temporal cannot),
    and the storyboard has no references; the approved sheet still judges identity on every
    shot of an unreviewed render."""
    board["path"].write_text(BOARD.replace("temporal: null", "temporal: 1.5").replace("max_takes: 2", "max_takes: 1"))
    _keyframes(board)
    code, out, err = run_cli("approve-sheet", "film", "red", "--home", str(board["home"]), "--reviewer", "mara")
    assert code == 0, err
    assert out.count("Approved red") == 3 and "by mara" in out
    code, _, err = run_cli("approve-sheet", "film", "blue", "--home", str(board["home"]))
    assert code == 0, err
    from production.context import RenderJob
    from tests.test_render_flow import _render

    job = RenderJob(storyboard=str(board["path"]), project="film", home=str(board["home"]), database_url=board["url"])
    _render(job)
    with transaction(open_database(board["url"])) as session:
        project = get_project(session, "film")
        anchors = current_anchors(session, project)
        assert {k: a.source for k, a in anchors.items()} == {"red": "sheet", "blue": "sheet"}
        assert anchors["red"].set_by == "sheet:mara"
        for shot in live_shots(session, project):
            assert shot.takes and not any(t.passed for t in shot.takes)  # nothing passed …
            for take in shot.takes:  # … and identity is judged on every take, against the sheet
                identity = next(s for s in take.scores if s.metric == "identity")
                cid = "red" if shot.key in "ab" else "blue"
                assert identity.details["anchors"] == {cid: anchors[cid].sha256}


def test_an_approved_start_keyframe_is_where_the_shot_starts(prefect_harness, board: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import generation.render

    _keyframes(board)
    assert run_cli("approve-keyframe", "film", "a", "--take", "1", "--home", str(board["home"]))[0] == 0
    seen: list[dict] = []
    real = generation.render.call_pipeline
    monkeypatch.setattr(generation.render, "call_pipeline", lambda pipe, kwargs: seen.append(kwargs) or real(pipe, kwargs))
    from production.context import RenderJob
    from tests.test_render_flow import _render

    job = RenderJob(storyboard=str(board["path"]), project="film", home=str(board["home"]), database_url=board["url"])
    _render(job)
    store = ArtifactStore(board["home"])
    keyframe = next(s for s in _stills(board) if s.subject == "a")
    approved = _image(store, keyframe)
    first = next(c for c in seen if "moves right" in c["prompt"])  # a's take (chains render side by side)
    assert np.array_equal(np.asarray(first["image"].convert("RGB")), approved)  # by value
    with transaction(open_database(board["url"])) as session:
        shots = {s.key: s for s in live_shots(session, get_project(session, "film"))}
        assert shots["a"].chosen_take.params["start"] == "keyframe"
        assert shots["c"].chosen_take.params["start"] == "t2i"  # not approved: drawn on the fly, as before
        assert shots["a"].inputs["keyframe_sha256"] == {"start": keyframe.sha256}
    # approving c's keyframe makes c stale, nothing else
    code, _, err = run_cli("approve-keyframe", "film", "c", "--home", str(board["home"]))
    assert code == 0, err
    code, out, err = run_cli("submit", str(board["path"]), "--home", str(board["home"]), "--json")
    assert code == 0, err
    states = {c["id"]: c["state"] for c in json.loads(out)}
    assert states == {"a": "unchanged", "b": "unchanged", "c": "stale"}


def test_bad_still_input_exits_2_and_stores_nothing(board: dict, tiny_models: dict, tmp_path: Path) -> None:
    # a text-to-image model that is a video pipeline
    board["path"].write_text(BOARD.replace("model: tiny\n", f"model: tiny\n  t2i_model: {tiny_models['wan']}\n"))
    code, _, err = run_cli("keyframes", str(board["path"]), "--home", str(board["home"]))
    assert code == 2 and "not a text-to-image" in err and "WanImageToVideoPipeline" in err
    # end_frame: auto on a family that cannot land
    board["path"].write_text(BOARD.replace("duration: 1}\n      - {id: b", "duration: 1, end_frame: auto}\n      - {id: b"))
    assert "end_frame: auto" in board["path"].read_text()
    code, _, err = run_cli("keyframes", str(board["path"]), "--home", str(board["home"]))
    assert code == 2 and "storyboard.yaml:" in err and "cannot land" in err and "end_frame" in err
    assert not (board["home"] / "storyreel.db").exists() or not _stills_or_none(board)
    # a sheet whose image went missing after its approval: render refuses, naming the character, storing nothing
    board["path"].write_text(BOARD)
    _keyframes(board)
    assert run_cli("approve-sheet", "film", "red", "--home", str(board["home"]))[0] == 0
    store = ArtifactStore(board["home"])
    front = next(s for s in _stills(board) if s.subject == "red" and s.role == "front")
    store.path(front.image_path).unlink()
    with transaction(open_database(board["url"])) as session:
        versions = len(get_project(session, "film").versions)
    code, _, err = run_cli("render", str(board["path"]), "--home", str(board["home"]), "--no-review")
    assert code == 2 and "red's sheet (front)" in err and "missing" in err
    with transaction(open_database(board["url"])) as session:
        assert len(get_project(session, "film").versions) == versions and not live_shots(session, get_project(session, "film"))
    # … and approving a take whose image is missing is refused the same way
    code, _, err = run_cli("approve-sheet", "film", "red", "--view", "front", "--take", "1", "--reject", "--home", str(board["home"]))
    assert code == 0, err
    code, _, err = run_cli("approve-sheet", "film", "red", "--view", "front", "--take", "1", "--home", str(board["home"]))
    assert code == 2 and "red's sheet (front) take 1 is missing" in err


def _stills_or_none(board: dict) -> list:
    try:
        return _stills(board)
    except Exception:
        return []


LANDING_BOARD = """\
title: Landing
settings: {{model: {model}, t2i_model: {t2i}, scorer: 'local-dir:{scorer}', width: 32, height: 32, fps: 16, steps: 2, seed: 3,
           max_takes: 1, thresholds: {checks}}}
scenes:
  - id: one
    shots:
      - {{id: a, prompt: a lighthouse at dusk, duration: 0.5}}
      - {{id: b, prompt: the keeper climbs the stairs, continuity: cut, duration: 0.5, end_frame: auto}}
"""


@pytest.mark.slow
def test_approved_start_and_end_keyframes_reach_the_pipeline_by_value(prefect_harness, tmp_path: Path, tiny_clip_dir: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A VACE model with a text-to-image keyframe model: a shot whose next shot is a cut in
    its scene gets an end keyframe, so does ``end_frame: auto``; approved, the render keeps
    them as its first and last frames."""
    import generation.render
    from generation.tiny import make_tiny
    from production.context import RenderJob
    from tests.test_render_flow import _render

    vace, t2i = make_tiny(tmp_path / "vace", "wan_vace"), make_tiny(tmp_path / "pixart", "pixart")
    folder, home = tmp_path / "film", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    (folder / "storyboard.yaml").write_text(LANDING_BOARD.format(model=vace, t2i=t2i, scorer=tiny_clip_dir, checks=NO_CHECKS))
    board = {"path": folder / "storyboard.yaml", "home": home, "url": f"sqlite:///{home / 'storyreel.db'}"}
    data = _keyframes(board)
    assert sorted(_slots(data)) == ["a end keyframe", "a start keyframe", "b end keyframe", "b start keyframe"]
    for shot in "ab":
        for flag in ((), ("--end",)):
            assert run_cli("approve-keyframe", "film", shot, *flag, "--home", str(home))[0] == 0
    seen: list[dict] = []
    real = generation.render.call_pipeline
    monkeypatch.setattr(generation.render, "call_pipeline", lambda pipe, kwargs: seen.append(kwargs) or real(pipe, kwargs))
    _render(RenderJob(storyboard=str(board["path"]), project="film", home=str(home), database_url=board["url"]))
    store = ArtifactStore(home)
    stills = {(s.subject, s.role): _image(store, s) for s in _stills(board)}
    calls = {("a" if "lighthouse" in c["prompt"] else "b"): c for c in seen}
    for shot in "ab":
        video, mask = calls[shot]["video"], calls[shot]["mask"]
        assert np.array_equal(np.asarray(video[0].convert("RGB")), stills[(shot, "start")]), shot
        assert np.array_equal(np.asarray(video[-1].convert("RGB")), stills[(shot, "end")]), shot
        assert [int(np.asarray(m).max()) for m in (mask[0], mask[-1])] == [0, 0]  # both kept


@pytest.mark.slow
def test_a_reviewed_render_waits_once_for_the_keyframes_then_renders_the_approved(prefect_harness, board: dict) -> None:
    import threading

    from prefect.flow_runs import resume_flow_run

    from production.context import RenderJob
    from tests.test_render_flow import _render
    from tests.test_review import _paused_run

    _keyframes(board)
    job = RenderJob(storyboard=str(board["path"]), project="film", home=str(board["home"]), database_url=board["url"],
                    review="batch", review_poll=1, reviewer="jo")

    def run() -> tuple[threading.Thread, dict]:
        out: dict = {}
        thread = threading.Thread(target=lambda: out.update(summary=_render(job)))
        thread.start()
        return thread, out

    thread, out = run()
    pause = _paused_run(job)
    assert "storyreel-review:film:keyframes" in pause.tags
    assert run_cli("approve-keyframe", "film", "a", "--home", str(board["home"]), "--reviewer", "jo")[0] == 0  # on the page, say
    resume_flow_run(pause.id, run_input={"approve_passing": False, "reviewer": "jo"})
    shots = _paused_run(job, after=pause)  # the batch review of what was rendered: a's chain only
    resume_flow_run(shots.id, run_input={"reviewer": "jo", "reviews": [{"shot": k, "decision": "approve"} for k in "ab"]})
    thread.join(180)
    assert out["summary"]["keyframes_waiting"] == ["c"] and out["summary"]["cut"] is None
    with transaction(open_database(board["url"])) as session:
        takes = {s.key: len(s.takes) for s in live_shots(session, get_project(session, "film"))}
    assert takes == {"a": 1, "b": 1, "c": 0}
    # the next reviewed render waits again for c; "approve what passed" approves it and c renders
    thread, out = run()
    pause = _paused_run(job)
    resume_flow_run(pause.id, run_input={"approve_passing": True, "reviewer": "jo"})
    shots = _paused_run(job, after=pause)
    asked = [t.rsplit(":", 1)[1] for t in shots.tags if t.startswith("storyreel-review:film:")]
    assert "c" in asked  # (a and b too: the approved sheets re-judged their identity, so their approval is asked again)
    resume_flow_run(shots.id, run_input={"reviewer": "jo", "reviews": [{"shot": k, "decision": "approve"} for k in asked]})
    thread.join(180)
    assert "keyframes_waiting" not in out["summary"] and out["summary"]["cut"] is not None
    c = next(s for s in _stills(board) if s.subject == "c")
    assert (c.status, c.reviewer) == ("approved", "jo")
