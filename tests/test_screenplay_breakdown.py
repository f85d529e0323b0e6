"""A real screenplay's breakdown: descriptions that are noun phrases, looks that change over the
story, shots that are shots, speakers in their shots, and a breakdown a person can correct."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from flows.settings import load_settings
from production.store import submit_file
from shots import load_storyboard, plan_storyboard
from shots.cast import capital_runs
from shots.grammar import bare_attributes, is_noun_phrase, noun_phrase
from shots.intros import introduce
from shots.looks import identities
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
FAMILY = DATA / "family.fountain"
SCREENPLAYS = sorted(DATA.glob("*.fountain"))


@pytest.mark.parametrize(
    ("sentence", "name", "description"),
    [
        ("WILL BLOOM, AGE 3, listens wide-eyed.", "WILL BLOOM", "a 3-year-old child"),
        ("He listens as his father EDWARD BLOOM, 40's and handsome, tells the story.", "EDWARD BLOOM", "a handsome man in his 40s"),
        ("Only DON PRICE, smoking on the corner, isn't sad.", "DON PRICE", None),
        ("ON SANDRA, overwhelmed.", "SANDRA", None),
        ("WILL, now 17 with braces, is fuming.", "WILL", "a 17-year-old with braces"),
        ("WILL, now 28, sits with his gorgeous bride JOSEPHINE.", "JOSEPHINE", "a gorgeous bride"),
        ("WILL, now 28, sits with his gorgeous bride JOSEPHINE.", "WILL", "a 28-year-old man"),
        ("A younger EDWARD, 20's, steps off the bus.", "EDWARD", "a younger person in their 20s"),
        ("JUNE HARLOW, a lanky mechanic in oil-stained overalls, slides under the truck.", "JUNE HARLOW", "a lanky mechanic in oil-stained overalls"),
        ("But BRICK BRADDOCK, retired police detective, is sitting quietly.", "BRICK BRADDOCK", "retired police detective"),
        ("PIKE, who has fished this bay for forty years, mends a net.", "PIKE", "someone who has fished this bay for forty years"),
        ("A woman in her forties named ANA sits at the bar.", "ANA", "a woman in her forties"),
        ("A mechanic, JUNE, wipes her hands.", "JUNE", "a mechanic"),
        ("An EXTREMELY HANDSOME MAN drinks a beer.", "EXTREMELY HANDSOME MAN", "an extremely handsome man"),
        ("Five kids crash into YOUNG EDWARD (10).", "YOUNG EDWARD", "a 10-year-old child"),
        ("Red-headed ZACKY PRICE is 10.", "ZACKY PRICE", "a red-headed 10-year-old child"),
        ("His brother DON PRICE is 12, and a lot bigger than the others.", "DON PRICE", "a 12-year-old boy"),
        ("Beamen's daughter JENNY (8) hides behind her father.", "JENNY", "an 8-year-old girl"),
        ("He is joined by NORTHER WINSLOW (30), who fancies himself a cultured artist.", "NORTHER WINSLOW", "a 30-year-old man who fancies himself a cultured artist"),
        ("The circus' owner-and-ringmaster AMOS CALLOWAY (50) approaches.", "AMOS CALLOWAY", "a 50-year-old owner-and-ringmaster"),
        ("This man is KARL, now 55.", "KARL", "a 55-year-old person"),
        ("Occasionally Joe's wife, KATE, looks in on them.", "KATE", "a woman"),
        ("JOE sits on the floor with his 7 year-old son, MATTHEW.", "MATTHEW", "a 7-year-old boy"),
        ("His mother SANDRA stands with him at the door.", "SANDRA", "a woman"),
        ("MARA, a tall woman in a green raincoat, drags a rope.", "MARA", "a tall woman in a green raincoat"),
        ("TESSA, late thirties, tired, unlocks the shop.", "TESSA", "a person in their late 30s"),
        ("DR. OKAFOR, mid-50s, balding, checks the chart.", "OKAFOR", "a person in their mid-50s"),
        ("LENA (17), all elbows and attitude, slams the door.", "LENA", "a 17-year-old, all elbows and attitude"),
        ("RUTHIE MACKLIN, 8, waves.", "RUTHIE MACKLIN", "an 8-year-old child"),
        ("WILBUR, also 10, follows.", "WILBUR", "a 10-year-old child"),
        ("GRANDMA ROSE, eighty and sharp as a tack, deals the cards.", "GRANDMA ROSE", "an 80-year-old woman, sharp as a tack"),
        ("SAM, a boy of three, chases the dog.", "SAM", "a boy of three"),
        ("VIC, tall and thin, leans on the bar.", "VIC", "a tall thin person"),
        ("VIC, shirtless, leans on the bar.", "VIC", "a shirtless person"),
        ("HECTOR, in a rumpled grey suit, waits.", "HECTOR", "a person in a rumpled grey suit"),
        ("BEA, wearing a yellow raincoat, runs for the bus.", "BEA", "a person wearing a yellow raincoat"),
        ("TEO, furious, kicks the door.", "TEO", None),
        ("KIT enters and drops a crate.", "KIT", None),
        ("BRICK, STEEL and DAN walk in.", "BRICK", None),
        ("Her twin sister MAY (12) copies every move.", "MAY", "a 12-year-old girl"),
        ("The old FERRYMAN, bearded and silent, poles the boat.", "FERRYMAN", "an old bearded silent ferryman"),
        ("A teenage GIRL, 15, skates past.", "GIRL", "a 15-year-old girl"),
    ],
)
def test_introductions_become_noun_phrases(sentence: str, name: str, description: str | None) -> None:
    """40+ introduction shapes: what stands in the name's place is a noun phrase, or nothing
    (a state, an action, a list of people, the name alone)."""
    run = next(r for r in capital_runs(sentence) if r.text == name or r.text.endswith(" " + name))
    intro = introduce(sentence, run, frozenset({"STEEL", "DAN"}))
    assert (intro.description if intro else None) == description
    if intro is not None:
        assert is_noun_phrase(intro.description), intro.description
        assert not bare_attributes(f"Then {intro.description} waits."), intro.description


@pytest.mark.parametrize(
    ("attributes", "sex", "phrase"),
    [
        ("age 3", "m", "a 3-year-old boy"),
        ("40's and handsome", "m", "a handsome man in his 40s"),
        ("now 17 with braces", None, "a 17-year-old with braces"),
        ("smoking on the corner", None, "a person smoking on the corner"),
        ("overwhelmed", "f", "an overwhelmed woman"),
        ("retired police detective", None, "retired police detective"),  # a noun phrase already
        ("mid-40s, balding", "m", "a man in his mid-40s, balding"),
        ("18", "f", "an 18-year-old girl"),
    ],
)
def test_attributes_are_attached_to_a_noun(attributes: str, sex: str | None, phrase: str) -> None:
    assert noun_phrase(attributes, sex) == phrase
    assert is_noun_phrase(phrase) and not is_noun_phrase(attributes) or attributes == phrase


@pytest.mark.parametrize("script", SCREENPLAYS, ids=lambda p: p.name)
def test_no_prompt_puts_a_or_an_before_attributes(script: Path) -> None:
    """The grammar rule over every prompt of every screenplay the tests hold."""
    board = load_storyboard(script)
    for shot in plan_storyboard(board).shots:
        assert not bare_attributes(shot.prompt.prompt), (shot.id, shot.prompt.prompt)
    for cid, character in board.characters.items():
        for text in (character.description, *(look.description for look in character.looks)):
            assert is_noun_phrase(noun_phrase(text)), (cid, text)


def _plan(script: Path) -> dict[str, dict]:
    code, out, err = run_cli("plan", str(script), "--json")
    assert code == 0, err
    return {row["id"]: row for row in json.loads(out)}


def test_a_title_pages_note_transitions_markers_and_fragments_are_not_shots() -> None:
    board = load_storyboard(FAMILY)
    prompts = [shot.prompt for _, shot in board.shot_list()]
    assert board.scenes[0].heading == "INT. FARMHOUSE KITCHEN - MORNING (1979)"  # the note before FADE IN is no scene
    assert not any(p.startswith(("A note", "Fade", "FADE", "Intercut", "Match", "Backstage")) for p in prompts)
    assert not any(word in p for p in prompts for word in ("FADE IN", "INTERCUT", "MATCH CUT", "TITLE OVER", "FADE OUT"))
    assert "Backstage." in prompts[0]  # a one-word paragraph joins the shot before
    assert 'A title card reading "THE ORCHARD YEARS"' in prompts  # TITLE OVER: a card
    # "...find the same clock" runs on from before the MATCH CUT: it opens the next shot, joined
    assert any(p.startswith("Find the same clock on the kitchen wall") and "counts the chimes" in p for p in prompts)
    assert any(p == "Focusing on the dashboard clock." for p in prompts)  # its dangling "we..." dropped
    road = board.scenes[3]  # INTERCUT WITH: the road and the hall alternate: a shot of another place is a cut
    assert road.heading == "EXT. COUNTY ROAD - NIGHT" and [s.continuity for s in road.shots] == [None, "cut"]


def test_camera_beats_split_a_paragraph() -> None:
    board = load_storyboard(FAMILY)
    shots = board.scenes[0].shots
    assert [(s.prompt.split(".")[0], s.camera) for s in shots[1:3]] == [
        ("Nora, grinning with jam on her chin", "new angle"), ("The knife as it slips", "close-up")]
    assert shots[1].line == shots[2].line == 20


def test_looks_over_time_by_scene_by_year_and_by_name() -> None:
    board = load_storyboard(FAMILY)
    nora, owen = board.characters["nora"], board.characters["owen"]
    assert nora.description == "a 6-year-old girl" and nora.origin.line == 12
    assert [(look.from_, look.description, look.origin.line) for look in nora.looks] == [("sc03", "an 18-year-old girl with braces", 32)]
    assert [(look.named, look.description) for look in owen.looks] == [("YOUNG OWEN", "a young man")]
    graph = plan_storyboard(board)
    looks = {s.id: dict(s.looks).get("nora", "base") for s in graph.shots if "nora" in s.characters}
    scene_of = {s.id: s.scene for s in graph.shots}
    by_scene = {scene_of[k]: v for k, v in looks.items()}
    assert by_scene["sc01"] == by_scene["sc02"] == "base"  # 1979
    assert by_scene["sc03"] == "sc03"  # "NORA, now 18 with braces" starts a look
    assert by_scene["sc05"] == "base"  # (1979) again: the look of that year, though it comes after
    assert by_scene["sc06"] == "sc03"  # (PRESENT): the latest look
    prompts = {s.scene: s.prompt.prompt for s in graph.shots if "nora" in s.characters}
    assert "6-year-old girl" in prompts["sc05"] and "18-year-old girl" in prompts["sc06"]
    # a child and the adult are judged against different anchors
    keyed = {identities(s.characters, s.looks)["nora"] for s in graph.shots if "nora" in s.characters}
    assert keyed == {"nora", "nora@sc03"}


def test_a_pronoun_after_a_second_named_character_means_the_woman() -> None:
    """"IDA laughs and helps her fix her collar": her is Nora, not Ida."""
    board = load_storyboard(FAMILY)
    (shot,) = [s for _, s in board.shot_list() if s.prompt.startswith("IDA laughs")]
    assert set(shot.characters) == {"ida", "nora"}
    assert board.characters["ida"].description == "a gorgeous friend"  # "her gorgeous friend IDA"


def test_speakers_are_present_and_speaking_their_lines_stored() -> None:
    board = load_storyboard(FAMILY)
    first = board.scenes[0].shots[0]
    assert first.dialogue == ("OWEN: Don't tell your mother.",)
    assert first.prompt.endswith("OWEN speaks, whispering.")
    prompt = plan_storyboard(board).shots[0].prompt.prompt
    assert "Don't tell" not in prompt and prompt.endswith("The handsome man speaks, whispering.")
    voice = [s for _, s in board.shot_list() if any(d.startswith("YOUNG OWEN") for d in s.dialogue)]
    assert voice and not any("owen" in s.characters for s in voice)  # a voice over is heard, not seen


def test_durations_follow_content_within_the_familys_range(write) -> None:
    short = "INT. ROOM - DAY\n\nA door opens slowly.\n"
    long = "INT. ROOM - DAY\n\n" + "The rain keeps falling on the roof of the barn. " * 3 + "\n\nOWEN\n" + "Words words words. " * 10 + "\n"
    (a,) = [s for _, s in load_storyboard(write("a.fountain", short)).shot_list()]
    (b,) = [s for _, s in load_storyboard(write("b.fountain", long)).shot_list()]
    assert a.duration == 2.5  # 2 s + 4 words × 0.15 s
    assert b.duration == 5.0  # the words ask for more: Wan clips are 5 s (81 frames at 16 fps)
    write("c.fountain.yaml", "settings: {model: THUDM/CogVideoX-5b-I2V}\n")
    (c,) = [s for _, s in load_storyboard(write("c.fountain", long)).shot_list()]
    assert c.duration == 6.0  # CogVideoX renders at most 49 frames at 8 fps


def test_a_breakdown_sidecar_round_trips_and_takes_corrections(tmp_path: Path) -> None:
    script = tmp_path / "family.fountain"
    script.write_text(FAMILY.read_text())
    before = _plan(script)
    sidecar = tmp_path / "family.fountain.yaml"
    code, out, err = run_cli("breakdown", str(script), "--out", str(sidecar))
    assert code == 0 and "Wrote" in out, err
    assert _plan(script) == before  # the same shots, prompts and looks from the sidecar
    code, _, err = run_cli("breakdown", str(script), "--out", str(sidecar))
    assert code == 2 and "--force" in err  # never over a breakdown someone corrected
    data = yaml.safe_load(sidecar.read_text())
    assert data["characters"]["nora"]["looks"][0]["from"] == "sc03" and data["scenes"][0]["shots"][0]["line"] == 12
    data["characters"]["owen"]["description"] = "a tall farmer in a flannel shirt"
    data["scenes"][0]["shots"][1]["camera"] = "low angle"
    sidecar.write_text(yaml.safe_dump(data, sort_keys=False))
    after = _plan(script)
    assert "A tall farmer in a flannel shirt" in after["s04"]["prompt"] and "Camera: low angle." in after["s02"]["prompt"]
    assert {k for k in after if after[k]["prompt"] != before[k]["prompt"]} == {"s01", "s02", "s04", "s08"}


def test_sidecar_looks_and_their_mistakes(write) -> None:
    script = write("film.fountain", FAMILY.read_text())
    write("film.fountain.yaml", "characters:\n  nora:\n    looks:\n      - {from: sc06, description: a grey-haired woman in a long coat}\n")
    graph = plan_storyboard(load_storyboard(script))
    by_scene = {s.scene: s.prompt.prompt for s in graph.shots if "nora" in s.characters}
    assert "grey-haired woman" in by_scene["sc06"] and "6-year-old girl" in by_scene["sc03"]  # the sidecar's looks replace the script's
    write("film.fountain.yaml", "characters:\n  nora:\n    looks:\n      - {from: sc99, description: x}\n")
    code, _, err = run_cli("validate", str(script))
    assert code == 2 and "film.fountain.yaml" not in err.split(":")[0] and "no scene 'sc99'" in err and "looks.0.from" in err


def test_a_changed_look_makes_exactly_its_shots_stale(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "film" / "family.fountain"
    script.parent.mkdir()
    script.write_text(FAMILY.read_text())
    settings = load_settings(tmp_path / "home", db_url)
    _, board, graph, _ = submit_file(settings, script, "family")
    older = {s.id for s in graph.shots if dict(s.looks).get("nora") == "sc03"}
    data = {"characters": {"nora": {"looks": [{"from": "sc03", "description": "an 18-year-old girl in a red jacket"}]}}}
    (script.parent / "family.fountain.yaml").write_text(yaml.safe_dump(data))
    _, _, graph, changes = submit_file(settings, script, "family")
    own = {c.id for c in changes if c.reason == "prompt changed"}
    assert own == older and older  # the shots of that look, and no other shot by its own inputs


def test_a_feature_length_screenplay_plans_in_time(tmp_path: Path) -> None:
    """A 150 KB screenplay plans within 2 s of CPU time (the command alone, in-process)."""
    scene = FAMILY.read_text().split("**FADE IN:**", 1)[1]
    script = tmp_path / "long.fountain"
    script.write_text("Title: Long\n\n" + scene * (150_000 // len(scene) + 1))
    assert script.stat().st_size >= 150_000
    start = time.process_time()
    code, out, _ = run_cli("plan", str(script), "--json")
    assert code == 0 and len(json.loads(out)) > 300
    assert time.process_time() - start < 2.0
