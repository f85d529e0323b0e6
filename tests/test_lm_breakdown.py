"""A screenplay broken down by a local chat model: the checks an answer must pass, the fallback
to the rule-based breakdown scene by scene, the cache, and the real path with a tiny Qwen2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from production.lm_breakdown import load_screenplay, with_model
from shots import load_storyboard
from shots.lm_breakdown import check_bible, check_scene
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
HARBOUR = DATA / "harbour.fountain"
KNOWN = {"june", "pike", "ana", "kit", "harbourmaster"}
SHOTS = {"shots": [{"line": 6, "prompt": "A lanky mechanic slides out from under a rusty truck in the fog.", "characters": ["june"],
                    "camera": "wide shot", "duration": 4},
                   {"line": 10, "prompt": "A weathered fisherman hauls a net onto the pier.", "characters": ["pike", "june"]}]}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (json.dumps(SHOTS), None),
        ("```json\n" + json.dumps(SHOTS) + "\n```", None),
        ("shots: one, two", "not JSON"),
        (json.dumps({"shots": []}), "not a shot list"),
        (json.dumps({"shots": [{"prompt": "x"}]}), "not a shot list (shots.0.line: Field required)"),
        (json.dumps({"shots": [{**SHOTS["shots"][0], "characters": ["maria"]}]}), "'maria', who is not in the script"),
        (json.dumps({"shots": [{**SHOTS["shots"][0], "line": 40}]}), "shows line 40, which is not in the scene (6–18)"),
        (json.dumps({"shots": [{**SHOTS["shots"][0], "duration": 30}]}), "lasts 30 s; the model renders"),
    ],
)
def test_a_scene_answer_counts_only_when_valid_and_faithful(answer: str, problem: str | None) -> None:
    parsed, why = check_scene(answer, set(range(6, 19)), KNOWN, (0.3125, 5.0))
    assert (parsed is None) == (problem is not None)
    assert why is None if problem is None else problem in why


@pytest.mark.parametrize(
    ("bible", "problem"),
    [
        ({"characters": {"june": {"description": "a lanky mechanic", "looks": [{"from": "sc03", "description": "a mechanic in a raincoat"}]}}}, None),
        ({"characters": {"maria": {"description": "a woman"}}}, "'maria' is not a character of the script"),
        ({"characters": {"june": {"description": "40's and handsome"}}}, "is not a noun phrase"),
        ({"characters": {"june": {"description": "a mechanic", "looks": [{"from": "sc09", "description": "an old woman"}]}}}, "'sc09', which is not a scene"),
    ],
)
def test_a_character_bible_counts_only_when_faithful(bible: dict, problem: str | None) -> None:
    parsed, why = check_bible(json.dumps(bible), KNOWN, {"sc01", "sc02", "sc03"})
    assert why is None if problem is None else problem in why


class Answers:
    """A stand-in model for the orchestration test: a valid shot list for the harbour's first
    scene, noise for everything else; counts what it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def answer(self, chats: list[list[dict[str, str]]]) -> list[str]:
        self.asked += len(chats)
        return [json.dumps(SHOTS) if "Scene sc01:" in chat[1]["content"] else "I cannot do that." for chat in chats]


@pytest.fixture
def screenplay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORYREEL_CACHE", str(tmp_path / "cache"))
    script = tmp_path / "harbour.fountain"
    script.write_text(HARBOUR.read_text())
    return script


def test_the_models_scenes_replace_the_rules_where_they_pass(screenplay: Path, prompt_model: Path) -> None:
    (screenplay.parent / "harbour.fountain.yaml").write_text(f"settings: {{breakdown_model: {prompt_model}}}\n")
    rules = load_storyboard(screenplay)
    model = Answers()
    board, report = with_model(rules, screenplay, lambda: model)
    assert report.scenes == {"sc01": None, "sc02": "the answer is not JSON", "sc03": "the answer is not JSON"}
    assert report.bible == "the answer is not JSON" and (report.asked, report.cached) == (4, 0)
    first = board.scenes[0].shots
    assert [(s.id, s.line, s.camera, s.characters) for s in first] == [("s01", 6, "wide shot", ("june",)), ("s02", 10, None, ("pike", "june"))]
    assert first[1].dialogue == ("PIKE: Engine's dead again.", "JUNE: I'll take a look.")  # the scene's lines stay with their shot
    assert first[-1].transition == "cut"
    assert [s.prompt for s in board.scenes[1].shots] == [s.prompt for s in rules.scenes[1].shots]  # the rules' where the model failed
    assert [s.id for _, s in board.shot_list()] == [f"s{i:02d}" for i in range(1, len(board.shot_list()) + 1)]
    again, report = with_model(rules, screenplay, lambda: pytest.fail("the cache answers"))
    assert (report.asked, report.cached) == (0, 4) and again == board


def test_plan_with_a_tiny_chat_model_falls_back_and_says_so(screenplay: Path, prompt_model: Path) -> None:
    """The real path: the tiny random Qwen2 answers noise, so every scene keeps the rules."""
    (screenplay.parent / "harbour.fountain.yaml").write_text(f"settings: {{breakdown_model: {prompt_model}}}\n")
    code, out, err = run_cli("plan", str(screenplay), "--json")
    assert code == 0, err
    assert "breakdown model: 0 of 3 scenes from the model" in err and "4 asked now" in err and "sc02: rule-based" in err
    assert [row["prompt"] for row in json.loads(out)][0].startswith("Fog over the water.")
    code, _, err = run_cli("plan", str(screenplay), "--json")
    assert code == 0 and "0 asked now, 4 from the cache" in err
    board, report = load_screenplay(screenplay)
    assert report is not None and all(why for why in report.scenes.values())


def test_a_breakdown_model_that_is_not_a_chat_model_is_refused(screenplay: Path) -> None:
    (screenplay.parent / "harbour.fountain.yaml").write_text(f"settings: {{breakdown_model: {screenplay.parent}}}\n")
    code, _, err = run_cli("plan", str(screenplay))
    assert code == 2 and "is not a transformers model folder" in err
