"""Honest outcomes: where each shot starts, what judges it, and an exit code that says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consistency.metrics import color_distance
from production.store import project_status, transaction
from generation.encode import read_video
from storage.artifacts import ArtifactStore
from storage.repo import get_project, live_shots
from tests.conftest import FILM_BOARD, run_cli

pytestmark = pytest.mark.slow

NO_REFERENCES = """\
title: Plain
settings: {model: tiny, scorer: tiny, width: 64, height: 64, fps: 4, steps: 20, guidance: 3, seed: 7, keyframe: last}
characters:
  red: {description: a red circle}
  blue: {description: a blue square}
scenes:
  - id: night
    shots:
      - {id: s01, prompt: a red circle moves right on a black background, characters: [red], duration: 2}
  - id: studio
    shots:
      - {id: s02, prompt: a blue square moves up on a yellow background, characters: [blue], duration: 2}
      - {id: s03, prompt: a red circle and a blue square meet on a green background, characters: [red, blue], duration: 2, continuity: cut}
"""


def test_cut_shots_without_references_render_passing_takes_on_the_tiny_model(prefect_harness, write, tmp_path: Path) -> None:
    """The embedded (trained) model has no text-to-video mode: each cut shot starts from the
    demo world's keyframe of its prompt, and every shot passes its checks."""
    board = write("plain/storyboard.yaml", NO_REFERENCES)
    home = tmp_path / "home"
    code, out, _ = run_cli("plan", str(board), "--json")
    assert {r["id"]: r["start"]["kind"] for r in json.loads(out)} == {"s01": "t2i", "s02": "t2i", "s03": "t2i"}
    code, out, err = run_cli("render", str(board), "--home", str(home), "--no-review", "--json")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(run_cli("status", "plain", "--home", str(home), "--json")[1])}
    assert {k: r["verdict"] for k, r in rows.items()} == {"s01": "passed", "s02": "passed", "s03": "passed"}
    from flows.settings import load_settings

    with transaction(load_settings(home).database()) as s:
        starts = {shot.key: shot.chosen_take.params["start"] for shot in live_shots(s, get_project(s, "plain"))}
    assert starts == {"s01": "t2i", "s02": "t2i", "s03": "t2i"}


def test_a_neutral_start_is_said_and_never_judged_as_the_scene(prefect_harness, write, tmp_path: Path, tiny_models, tiny_clip_dir) -> None:
    """A family without a text mode starts a cut shot from a grey frame: plan and validate say
    so, and colour drift is judged against the take's own first frame, not the grey."""
    board = write(
        "grey/storyboard.yaml",
        f"title: t\nsettings: {{model: {tiny_models['wan']}, scorer: 'local-dir:{tiny_clip_dir}', width: 32, height: 32, fps: 16, steps: 2, max_takes: 1,"
        " thresholds: {prompt: null, temporal: null, flicker: null, color_drift: 1000, motion: null}}\n"
        "shots:\n  - {id: a, prompt: a red circle, duration: 1}\n  - {id: b, prompt: it moves, duration: 1}\n",
    )
    home = tmp_path / "home"
    assert "a: starts from a neutral grey frame" in run_cli("validate", str(board))[2]
    assert run_cli("validate", "--strict", str(board))[0] == 2
    code, _, err = run_cli("render", str(board), "--home", str(home), "--no-review", "--json")
    assert code == 0, err
    from flows.settings import load_settings

    store = ArtifactStore(home)
    with transaction(load_settings(home).database()) as s:
        shots = {shot.key: shot for shot in live_shots(s, get_project(s, "grey"))}
        a, b = shots["a"].chosen_take, shots["b"].chosen_take
        assert a.params["start"] == "neutral"
        drift_a = next(x for x in a.scores if x.metric == "color_drift")
        drift_b = next(x for x in b.scores if x.metric == "color_drift")
        frames_a = read_video(store.path(a.media_path))
    assert set(drift_a.details) == {"vs_scene"}  # a cut: no conditioning frame to compare with
    grey = frames_a[:1] * 0 + 128
    own, to_grey = color_distance(frames_a, frames_a[0]), color_distance(frames_a, grey[0])
    # measured on the clip before H.264 (the decoded one differs a little): its own first frame, not the grey
    assert abs(drift_a.value - own) < 0.25 * own and drift_a.value < 0.75 * to_grey
    assert set(drift_b.details) == {"vs_condition", "vs_scene"}  # b continues a; the scene's anchor is a's frame 0


def test_render_exits_1_and_names_each_shot_without_an_accepted_take(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shot b of the film can never pass (flicker ≤ 1 < 1.01): render says so and exits 1,
    status marks its take best of failed; approving it settles the shot."""
    monkeypatch.setenv("STORYREEL_DATABASE_URL", film["url"])
    home = str(film["home"])
    code, out, err = run_cli("render", str(film["folder"] / "storyboard.yaml"), "--project", "film", "--home", home)
    assert code == 1 and "Traceback" not in out + err
    assert "1 shot(s) need attention" in err
    assert "b: none of 2 takes passed its checks; the best, take" in err and "fails flicker" in err and "< 1.01" in err
    rows = {r["id"]: r for r in json.loads(run_cli("status", "film", "--home", home, "--json")[1])}
    assert (rows["a"]["verdict"], rows["b"]["verdict"], rows["c"]["verdict"]) == ("passed", "best_of_failed", "passed")
    assert rows["b"]["failing"][0].startswith("flicker ") and rows["b"]["failing"][0].endswith("< 1.01")
    code, table, _ = run_cli("status", "film", "--home", home)
    assert "best of" in table and "passed" in table  # "best of failed", wrapped in an 80-column table
    assert run_cli("approve", "film", "b", "--home", home)[0] == 0
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["verdict"] == "approved"


def test_rerender_says_when_it_kept_the_previous_take(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYREEL_DATABASE_URL", film["url"])
    board = FILM_BOARD.replace("thresholds: {flicker: 1.01}", "thresholds: {flicker: 0.0}")
    (film["folder"] / "storyboard.yaml").write_text(board)
    home = str(film["home"])
    assert run_cli("render", str(film["folder"] / "storyboard.yaml"), "--project", "film", "--home", home)[0] == 0
    (film["folder"] / "storyboard.yaml").write_text(FILM_BOARD)  # b can no longer pass; its take stays chosen
    assert run_cli("approve", "film", "b", "--home", home)[0] == 0
    code, out, err = run_cli("rerender", "film", "b", "--home", home)
    assert "b: the new take 2 did not pass" in out.replace("\n", " ") and "kept take 1" in out
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert (rows["b"]["chosen_take"], rows["b"]["verdict"]) == (1, "approved")


def test_render_exits_1_when_a_shot_was_made_stale_during_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 0 means rendered and cut: a run that ends with a shot made stale meanwhile (a queued
    re-render of an earlier shot) and no new cut exits 1 naming it. The run itself is a stand-in
    here (what it returns is the orchestration's outcome); the rule under test is the exit."""
    from flows import runner
    from production import context

    monkeypatch.setattr(context, "preflight", lambda job, settings: None)
    monkeypatch.setattr(runner, "run_render", lambda *a, **k: {"project": "film", "shots": [], "remaining": {"not rendered": ["s02"]}})
    import production.store

    monkeypatch.setattr(production.store, "project_status", lambda settings, name: [])
    board = tmp_path / "storyboard.yaml"
    board.write_text("title: t\nshots:\n  - {id: s01, prompt: a red circle moves right}\n  - {id: s02, prompt: it grows}\n")
    code, out, err = run_cli("render", str(board), "--home", str(tmp_path / "home"), "--no-review")
    assert code == 1 and "not rendered, so no new cut: s02" in err and "storyreel render" in err


def test_a_temporal_failure_from_one_dropped_frame_says_so() -> None:
    """A take whose mean temporal score passes but whose frame drops too far is told by its drop,
    not as ``temporal 0.959 < 0.9``."""
    from production.store import failing_scores
    from storage.schema import Score, Take

    take = Take(scores=[Score(metric="temporal", value=0.959, threshold=0.9, passed=False,
                              details={"worst_drop_frame": 5, "worst_drop_depth": 0.12, "max_drop": 0.08}),
                        Score(metric="prompt", value=0.1, threshold=0.2, passed=False, details={})])
    assert failing_scores(take) == ["temporal: frame 5 drops 0.12 > 0.08", "prompt 0.1 < 0.2"]
