"""YAML storyboards: the model, defaults, and every kind of bad input with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shots import load_storyboard
from shots.errors import StoryboardError
from shots.models import Crossfade
from tests.conftest import DEMO

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)

GOOD = """\
title: Test
settings:
  model: tiny
  fps: 16
characters:
  ana:
    description: a woman in a red coat
shots:
  - id: a
    prompt: Ana walks
    characters: [ana]
    duration: 2
  - id: b
    prompt: Ana stops
    transition: {crossfade: 0.5}
  - id: c
    prompt: Ana waves
"""


def test_demo_storyboard_has_two_characters_a_cut_and_a_crossfade() -> None:
    board = load_storyboard(DEMO)
    shots = [shot for _, shot in board.shot_list()]
    assert 4 <= len(shots) <= 6
    assert len(board.characters) == 2
    assert len(board.scenes) == 2  # the second scene starts with a hard cut
    assert sum(isinstance(s.transition, Crossfade) for s in shots) == 1


def test_flat_shots_become_one_scene_with_defaults(write) -> None:
    board = load_storyboard(write("sb.yaml", GOOD))
    assert [s.id for _, s in board.shot_list()] == ["a", "b", "c"]
    assert len(board.scenes) == 1
    assert board.shot("b").transition == Crossfade(crossfade=0.5)
    assert board.shot("b").duration == 3.0
    assert board.settings.max_takes == 3


def test_models_are_frozen(write) -> None:
    board = load_storyboard(write("sb.yaml", GOOD))
    with pytest.raises(Exception):
        board.title = "other"  # type: ignore[misc]


def _error(write, text: str | bytes, name: str = "sb.yaml") -> StoryboardError:
    path = write(name, text)
    with pytest.raises(StoryboardError) as info:
        load_storyboard(path)
    assert info.value.file == str(path)
    return info.value


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        (("    duration: 2\n", "    duration: 2\n    lenght: 4\n"), 13, "unknown key 'lenght'; allowed keys: camera, characters, continuity"),
        (("  - id: b\n", "  - id: a\n"), 13, "shot id 'a' is used twice"),
        (("    characters: [ana]\n", "    characters: [ana, bob]\n"), 11, "unknown character 'bob'; known characters: ana"),
        (("    duration: 2\n", "    duration: 0\n"), 12, "greater than 0"),
        (("    duration: 2\n", "    duration: -1.5\n"), 12, "greater than 0"),
        (("  fps: 16\n", "  fps: 16\n  sped: 3\n"), 5, "unknown key 'sped'"),
        (("    transition: {crossfade: 0.5}\n", "    transition: fade\n"), 15, "use 'cut' or {crossfade: SECONDS}"),
        (("    transition: {crossfade: 0.5}\n", "    transition: {crossfade: 9}\n"), 15, "shorter than both"),
        (("    prompt: Ana walks\n", "    prompt: Ana walks\n    continuity: continue\n"), 11, "no previous shot"),
        (("    prompt: Ana waves\n", "    prompt: Ana waves\n    transition: {crossfade: 1}\n"), 18, "no next shot"),
        (("    prompt: Ana walks\n", "    prompt: Ana walks\n    prompt: again\n"), 11, "appears twice"),
        (("  model: tiny\n", "  model: tiny\n  width: 70\n"), 4, "multiple of 16"),
        (("  model: tiny\n", "  model: tiny\n  thresholds: {beauty: 0.3}\n"), 4, "unknown metric 'beauty'"),
    ],
)
def test_bad_input_is_located(write, edit: tuple[str, str], line: int, needle: str) -> None:
    assert edit[0] in GOOD
    error = _error(write, GOOD.replace(edit[0], edit[1], 1))
    assert error.line == line, str(error)
    assert needle in str(error)
    assert str(error).startswith(f"{error.file}:{line}: ")


def test_missing_and_escaping_reference_images(write, tmp_path: Path) -> None:
    write("refs/ana.png", PNG)
    ok = GOOD.replace("a woman in a red coat\n", "a woman in a red coat\n    reference: refs/ana.png\n")
    assert load_storyboard(write("sb.yaml", ok)).characters["ana"].reference == "refs/ana.png"

    missing = _error(write, ok.replace("refs/ana.png", "refs/bob.png"))
    assert missing.line == 8 and "does not exist" in str(missing)

    (tmp_path.parent / "outside.png").write_bytes(PNG)
    escape = _error(write, ok.replace("refs/ana.png", "../outside.png"))
    assert escape.line == 8 and "outside the storyboard's folder" in str(escape)
    absolute = _error(write, ok.replace("refs/ana.png", str(tmp_path.parent / "outside.png")))
    assert "outside the storyboard's folder" in str(absolute)


def test_every_problem_is_listed(write) -> None:
    text = GOOD.replace("[ana]", "[zed]").replace("duration: 2", "duration: 2\n    bogus: 1")
    message = str(_error(write, text))
    assert "unknown key 'bogus'" in message
    # pydantic stops before cross-field checks, so field errors come first; fix, then:
    message = str(_error(write, GOOD.replace("[ana]", "[zed]").replace("id: b", "id: a")))
    assert "unknown character 'zed'" in message and "used twice" in message


@pytest.mark.parametrize(
    ("content", "needle", "line"),
    [
        ("", "empty", 1),
        ("   \n\n", "empty", 1),
        (b"title: caf\xe9\nshots: []\n", "not UTF-8", 1),
        (b"title: a\n\nshots:\n  - id: \xff\n", "not UTF-8", 4),
        ("title: x\nshots:\n  - id: a\n   prompt: [\n", "not valid YAML", None),
        ("- just\n- a list\n", "a storyboard is a mapping", 1),
        ("title: x\n", "no shots", 1),
        ("title: x\nshots: []\n", "at least 1", 2),
        ("title: x\nshots: [{id: a, prompt: p}]\nscenes: []\n", "either 'shots' or 'scenes'", 3),
    ],
)
def test_unusable_files(write, content: str | bytes, needle: str, line: int | None) -> None:
    error = _error(write, content)
    assert needle in str(error)
    if line is not None:
        assert error.line == line


def test_unreadable_and_unknown_files(tmp_path: Path, write) -> None:
    with pytest.raises(StoryboardError, match="file not found"):
        load_storyboard(tmp_path / "nope.yaml")
    with pytest.raises(StoryboardError, match="unknown storyboard format"):
        load_storyboard(write("sb.txt", GOOD))
    with pytest.raises(StoryboardError, match="is a folder"):
        load_storyboard(tmp_path.joinpath("dir.yaml").mkdir() or tmp_path / "dir.yaml")


def test_scenes_form_and_scene_errors(write) -> None:
    text = """\
title: Two scenes
characters: {}
scenes:
  - id: one
    heading: INT. ROOM
    shots:
      - {id: a, prompt: a lamp}
      - {id: b, prompt: a chair}
  - id: two
    shots:
      - {id: c, prompt: a door}
"""
    board = load_storyboard(write("sb.yaml", text))
    assert [sc.id for sc in board.scenes] == ["one", "two"]
    error = _error(write, text.replace("id: two", "id: one"))
    assert error.line == 9 and "scene id 'one' is used twice" in str(error)
    error = _error(write, text.replace("{id: c, prompt: a door}", "{id: c}"))
    assert error.line == 11 and "scenes.1.shots.0.prompt" in str(error)
