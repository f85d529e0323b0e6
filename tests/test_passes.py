"""Draft and final passes: drafts with the storyboard's draft settings in their own project,
finals of the approved drafts with the full settings, the drafts' seeds and the same keyframes,
judged against their drafts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import generation.render
from flows.settings import load_settings
from production.context import RenderJob
from production.store import transaction
from shots import load_storyboard
from storage.db import open_database
from storage.repo import get_project, live_shots
from tests.conftest import run_cli
from tests.test_render_flow import _render
from tests.test_stills import BOARD, _image, _keyframes, _stills

DRAFT_BOARD = BOARD.replace("  max_takes: 2\n", "  max_takes: 2\n  draft: {steps: 1, width: 16, height: 16, max_takes: 1}\n")


@pytest.fixture
def film(tmp_path: Path, demo_home: Path) -> dict:
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(DRAFT_BOARD)
    return {"path": folder / "storyboard.yaml", "home": demo_home, "url": f"sqlite:///{demo_home / 'storyreel.db'}"}


def _job(film: dict, pass_name: str) -> RenderJob:
    from flows.cli.render import pass_fields

    settings = load_settings(film["home"], film["url"])
    fields = {"project": "film", **pass_fields(settings, load_storyboard(film["path"]), "film", pass_name)}
    return RenderJob(storyboard=str(film["path"]), home=str(film["home"]), database_url=film["url"], **fields)


def _shots(film: dict, project: str) -> dict:
    with transaction(open_database(film["url"])) as session:
        shots = {s.key: s for s in live_shots(session, get_project(session, project))}
        for shot in shots.values():
            _ = shot.chosen_take, [t.scores for t in shot.takes]
            if shot.chosen_take is not None:
                _ = shot.chosen_take.scores
        return shots


def test_final_needs_accepted_drafts_and_says_which(film: dict) -> None:
    home = str(film["home"])
    code, _, err = run_cli("render", str(film["path"]), "--home", home, "--pass", "final", "--no-review")
    assert code == 2 and "no draft pass yet" in err and "--pass draft" in err
    code, _, err = run_cli("render", str(film["path"]), "--home", home, "--pass", "sketch", "--no-review")
    assert code == 2 and "use draft or final" in err
    film["path"].write_text(BOARD)
    code, _, err = run_cli("render", str(film["path"]), "--home", home, "--pass", "draft", "--no-review")
    assert code == 2 and "settings.draft" in err


def test_draft_then_final_keeps_seeds_and_keyframes(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    _keyframes(film)
    assert run_cli("approve-keyframe", "film", "a", "--home", str(film["home"]))[0] == 0
    seen: list[dict] = []
    real = generation.render.call_pipeline
    monkeypatch.setattr(generation.render, "call_pipeline", lambda pipe, kwargs: seen.append(kwargs) or real(pipe, kwargs))
    _render(_job(film, "draft"))
    drafts = _shots(film, "film.draft")
    assert {k: (s.chosen_take.params["pass"], s.chosen_take.params["steps"], s.chosen_take.params["width"]) for k, s in drafts.items()} \
        == {k: ("draft", 1, 16) for k in "abc"}
    # a person re-rolls c's draft with another seed; the final must keep that seed
    code, out, err = run_cli("rerender", "film.draft", "c", "--seed", "1234", "--home", str(film["home"]), "--json")
    assert code == 0, err
    assert _shots(film, "film.draft")["c"].chosen_take.seed == 1234
    keyframe = _image(__import__("storage.artifacts", fromlist=["ArtifactStore"]).ArtifactStore(film["home"]),
                      next(s for s in _stills(film) if s.subject == "a"))
    seen.clear()
    _render(_job(film, "final"))
    finals = _shots(film, "film")
    draft_seeds = {k: s.chosen_take.seed for k, s in _shots(film, "film.draft").items()}
    assert {k: s.chosen_take.seed for k, s in finals.items()} == draft_seeds and draft_seeds["c"] == 1234
    for key, shot in finals.items():
        take = shot.chosen_take
        assert (take.params["pass"], take.params["steps"], take.params["width"]) == ("final", 2, 32)
        draft = next(s for s in take.scores if s.metric == "draft")
        assert draft.details["draft_take"] == drafts[key].chosen_take.attempt or key == "c"
        assert 0.0 <= draft.value <= 1.0
    # the final of a starts from the same approved keyframe, by value, at its full size
    first = next(c for c in seen if "moves right" in c["prompt"])
    assert np.array_equal(np.asarray(first["image"].convert("RGB")), keyframe)
    code, out, err = run_cli("status", "film", "--home", str(film["home"]), "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["c"]["pass"] == "final" and rows["c"]["draft"]["seed"] == 1234 and rows["c"]["draft"]["project"] == "film.draft"


def test_a_final_that_drifts_from_its_draft_is_flagged(prefect_harness, film: dict) -> None:
    film["path"].write_text(DRAFT_BOARD.replace("flicker: null}", "flicker: null, draft: 1.01}"))  # no final can match
    _render(_job(film, "draft"))
    code, _, err = run_cli("render", str(film["path"]), "--home", str(film["home"]), "--pass", "final", "--no-review")
    assert code == 1 and "fails draft" in err, err
    finals = _shots(film, "film")
    for shot in finals.values():
        draft = next(s for s in shot.chosen_take.scores if s.metric == "draft")
        assert draft.passed is False and shot.chosen_take.passed is False
    assert all(len(shot.takes) == 1 for shot in finals.values())  # a final is not re-rolled: its seed is its draft's
