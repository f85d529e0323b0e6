"""Fountain screenplays and CSV shot lists produce the same Storyboard model as YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from shots import load_storyboard, plan_storyboard
from shots.errors import StoryboardError
from shots.models import Crossfade

DATA = Path(__file__).parent / "data"


def test_fountain_multi_scene_with_transitions_and_dialogue() -> None:
    board = load_storyboard(DATA / "heist.fountain")
    assert board.title == "The Lighthouse"
    assert [sc.heading for sc in board.scenes] == ["INT. LIGHTHOUSE - NIGHT", "EXT. CLIFF - DAWN", "CAVE MOUTH"]
    s1, s2 = board.scenes[0].shots
    assert s1.prompt.startswith("MAYA, a keeper in a red scarf, climbs")
    assert s1.dialogue == ("MAYA: Almost there.",)  # the parenthetical is not dialogue
    assert s2.prompt == "She reaches the lamp room and looks out to sea."
    assert "storm" not in " ".join(s.prompt for _, s in board.shot_list())  # boneyard removed
    assert s2.transition == Crossfade(crossfade=1.0)  # DISSOLVE TO:
    (s3,) = board.scenes[1].shots
    assert s3.prompt == "A small boat drifts toward the rocks. MAYA speaks."  # note removed; the speaker is in the shot
    assert s3.dialogue == ("TOM: Keep the light on, Maya.", "MAYA: Always.")
    assert s3.transition == "cut"
    assert s3.characters == ("maya",)  # Tom is a voice over: heard, not seen
    # A character is described by the line that introduces it in capitals; Tom, never
    # introduced, by his name (plan warns).
    maya, tom = board.characters["maya"], board.characters["tom"]
    assert maya.description == "a keeper in a red scarf" and maya.names == ("MAYA",)
    assert (maya.origin.line, maya.origin.how) == (7, "appositive")
    assert (tom.description, tom.origin.how) == ("Tom", "name only")
    # "She" in s02 is Maya; the cave names her in the action.
    assert s1.characters == ("maya",) and s2.characters == ("maya",)
    assert board.scenes[2].shots[0].characters == ("maya",)
    graph = plan_storyboard(board)
    assert [s.continuity for s in graph.shots] == ["cut", "continue", "cut", "cut"]
    assert graph.chains == (("s01", "s02"), ("s03",), ("s04",))


def test_fountain_sidecar_defines_characters_and_settings(tmp_path: Path) -> None:
    script = tmp_path / "x.fountain"
    script.write_text((DATA / "heist.fountain").read_text())
    (tmp_path / "x.fountain.yaml").write_text(
        "settings: {fps: 8, model: tiny}\ncharacters:\n  maya: {description: a tall woman}\n"
    )
    board = load_storyboard(script)
    assert board.settings.fps == 8
    assert board.characters["maya"].description == "a tall woman"
    (tmp_path / "x.fountain.yaml").write_text("colour: red\n")
    with pytest.raises(StoryboardError, match="unknown key 'colour'"):
        load_storyboard(script)


def test_fountain_errors_point_at_the_shot_line(tmp_path: Path) -> None:
    script = tmp_path / "x.fountain"
    script.write_text("INT. ROOM\n\nA lamp.\n\nDISSOLVE TO:\n")
    with pytest.raises(StoryboardError) as info:
        load_storyboard(script)
    assert info.value.line == 3 and "no next shot to crossfade into" in str(info.value)


CSV = """\
scene,shot,description,camera,duration,characters
1,s1,A woman enters a cafe,wide,2,ana
1,s2,She orders coffee,close-up,1.5,ana;barista
2,s3,"Night street, rain",,4,
"""


def test_csv_shot_list(write) -> None:
    board = load_storyboard(write("list.csv", CSV))
    assert [sc.id for sc in board.scenes] == ["1", "2"]
    s1, s2, s3 = (s for _, s in board.shot_list())
    assert (s1.camera, s1.duration, s1.characters) == ("wide", 2.0, ("ana",))
    assert s2.characters == ("ana", "barista")
    assert s3.prompt == "Night street, rain" and s3.camera is None
    assert board.characters["barista"].description == "barista"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (CSV.replace("camera,", "camra,"), 1, "unknown column 'camra'"),
        (CSV.replace("description,", ""), 1, "missing column 'description'"),
        (CSV.replace(",2,ana\n", ",-2,ana\n"), 2, "greater than 0"),
        (CSV.replace(",1.5,", ",soon,"), 3, "valid number"),
        (CSV.replace("1,s2", "1,s1"), 3, "used twice"),
        (CSV + "1,s9,back to the cafe,,2,\n", 5, "appears again after another scene"),
        (CSV.replace("wide,2,ana", "wide,2"), 2, "has 5 cells"),
        ("scene,shot,description\n", 1, "no shots"),
    ],
)
def test_csv_errors(write, text: str, line: int, needle: str) -> None:
    with pytest.raises(StoryboardError) as info:
        load_storyboard(write("list.csv", text))
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value)


def test_same_story_same_model_across_formats(write) -> None:
    yaml_board = load_storyboard(
        write(
            "sb.yaml",
            "title: Untitled\ncharacters: {ana: {description: ana, names: [ana]}}\n"
            "scenes:\n  - id: '1'\n    shots:\n      - {id: s1, prompt: A woman enters, camera: wide, duration: 2, characters: [ana]}\n",
        )
    )
    csv_board = load_storyboard(write("sb.csv", "scene,shot,description,camera,duration,characters\n1,s1,A woman enters,wide,2,ana\n"))
    def without_origins(board):  # where a description came from differs by format
        dumped = board.model_dump()
        for character in dumped["characters"].values():
            character.pop("origin")
        return dumped

    assert without_origins(yaml_board) == without_origins(csv_board)
    assert csv_board.characters["ana"].origin.how == "name only"
