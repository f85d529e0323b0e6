"""From a screenplay to prompts: descriptions read from introductions, aliases, who is in each
shot, prompts that weave descriptions in once, and staleness that follows a description."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.settings import load_settings
from production.store import submit_file
from shots import load_storyboard, plan_storyboard
from shots.cast import capital_runs, short_phrase
from shots.intros import describe
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
HARBOUR = DATA / "harbour.fountain"


@pytest.mark.parametrize(
    ("sentence", "name", "description", "how"),
    [
        ("JUNE HARLOW, a lanky mechanic in oil-stained overalls, slides under the truck.", "JUNE HARLOW",
         "a lanky mechanic in oil-stained overalls", "appositive"),
        ("But BRICK BRADDOCK, retired police detective, is sitting quietly.", "BRICK BRADDOCK", "retired police detective", "appositive"),
        ("MAYA, a keeper in a RED scarf climbs the spiral stairs.", "MAYA", "a keeper in a red scarf", "appositive"),
        ("PIKE, who has fished this bay for forty years, mends a net.", "PIKE", "someone who has fished this bay for forty years",
         "relative clause"),
        ("A woman in her forties named ANA sits at the bar.", "ANA", "a woman in her forties", "named"),
        ("Across the street, a boy in a red cap called TEO waits.", "TEO", "a boy in a red cap", "named"),
        ("A mechanic, JUNE, wipes her hands.", "JUNE", "a mechanic", "appositive"),
        ("An EXTREMELY HANDSOME MAN drinks a beer.", "EXTREMELY HANDSOME MAN", "an extremely handsome man", "phrase"),
    ],
)
def test_descriptions_from_introductions(sentence: str, name: str, description: str, how: str) -> None:
    (run,) = [r for r in capital_runs(sentence) if r.text == name]
    assert describe(sentence, run) == (description, how)


@pytest.mark.parametrize(
    "sentence",
    [
        "KIT enters and drops a crate.",  # the name alone
        "BRICK, STEEL and DAN walk in.",  # a list of people, not a description
        "The SCREEN DOOR slides open.",
    ],
)
def test_no_description_where_the_line_gives_none(sentence: str) -> None:
    run = capital_runs(sentence)[0]
    assert describe(sentence, run, frozenset({"STEEL", "DAN"})) is None


def test_short_phrases_for_later_mentions() -> None:
    assert short_phrase("a lanky mechanic in oil-stained overalls") == "the lanky mechanic"
    assert short_phrase("his former partner and fellow retiree") == "the former partner"
    assert short_phrase("someone who has fished this bay") == "the person"


def test_characters_aliases_and_origins() -> None:
    board = load_storyboard(HARBOUR)
    june, pike, ana, kit = (board.characters[c] for c in ("june", "pike", "ana", "kit"))
    assert (june.description, june.names) == ("a lanky mechanic in oil-stained overalls", ("JUNE HARLOW", "JUNE"))
    assert (pike.description, pike.names) == ("a weathered fisherman in a yellow raincoat", ("OLD PIKE", "PIKE"))
    assert ana.description == "a woman in her forties"
    assert (kit.description, kit.origin.how) == ("Kit", "name only")
    assert [(c.origin.line, c.origin.how) for c in (june, pike, ana)] == [(6, "appositive"), (10, "appositive"), (24, "named")]
    # Never speaks, but introduced as a person.
    assert board.characters["harbourmaster"].description == "a stout man with a clipboard"
    assert "old_pike" not in board.characters and "june_harlow" not in board.characters


def test_who_is_in_each_shot() -> None:
    cast = {shot.id: shot.characters for _, shot in load_storyboard(HARBOUR).shot_list()}
    assert cast["s02"] == ("june",)  # "She wipes her hands": the nearest named character before
    assert cast["s03"] == ("pike", "june")  # Pike acts, June answers him in the dialogue after
    assert cast["s04"] == ()  # gulls only: June and Pike spoke in the scene but are not in it
    assert cast["s06"] == ("kit", "ana")
    assert cast["s07"] == ("kit",)  # "He": Kit, not Ana (a woman) nor the radio (a voice over)
    assert cast["s08"] == ("ana",)
    assert cast["s10"] == ("harbourmaster",)  # "as they come in" (boats) adds nobody


def test_prompts_weave_each_description_once() -> None:
    board = load_storyboard(HARBOUR)
    graph = plan_storyboard(board)
    names = {"June", "Harlow", "Pike", "Ana"}
    for shot in graph.shots:
        prompt = shot.prompt.prompt
        for cid in shot.characters:
            description = board.characters[cid].description
            if board.characters[cid].origin.how != "name only":  # a name is said again as itself
                assert prompt.lower().count(description.lower()) == 1, (shot.id, cid, prompt)
        # A name a model knows nothing of is replaced; no prompt leads with a bare name.
        assert not names & set(re.findall(r"[A-Za-z]+", prompt)), (shot.id, prompt)
        assert shot.prompt.tokens > 0 and shot.prompt.budget == graph.spec.text_tokens
    by_id = {s.id: s.prompt.prompt for s in graph.shots}
    assert by_id["s01"] == "Fog over the water. A lanky mechanic in oil-stained overalls slides out from under a rusty truck."
    assert by_id["s02"].startswith("A lanky mechanic in oil-stained overalls wipes her hands")
    # The speakers of a shot's dialogue are present and speaking; their lines stay off the prompt.
    assert by_id["s03"] == ("A weathered fisherman in a yellow raincoat hauls a net onto the pier. "
                            "The weathered fisherman and a lanky mechanic in oil-stained overalls talk.")
    assert by_id["s11"] == "The engine coughs to life. A lanky mechanic in oil-stained overalls speaks, grinning."
    assert board.shot("s11").dialogue == ("JUNE: Told you.",)
    assert by_id["s09"] == ("A lanky mechanic in oil-stained overalls tightens a bolt on the engine. "
                            "A weathered fisherman in a yellow raincoat watches her work.")
    assert plan_storyboard(board).shots == graph.shots  # deterministic


def test_later_mentions_use_the_short_phrase(write) -> None:
    script = write("two.fountain", "INT. GARAGE - DAY\n\nJUNE HARLOW, a lanky mechanic in oil-stained overalls, "
                   "drops a wrench. June swears and June picks it up.\n\nJUNE\nDamn.\n")
    (shot,) = plan_storyboard(load_storyboard(script)).shots
    assert shot.prompt.prompt == ("A lanky mechanic in oil-stained overalls drops a wrench. "
                                  "The lanky mechanic swears and the lanky mechanic picks it up. The lanky mechanic speaks.")


def test_sidecar_overrides_a_description_and_adds_a_reference(tmp_path: Path) -> None:
    from PIL import Image

    script = tmp_path / "harbour.fountain"
    script.write_text(HARBOUR.read_text())
    Image.new("RGB", (8, 8), "yellow").save(tmp_path / "pike.png")
    (tmp_path / "harbour.fountain.yaml").write_text(
        "characters:\n  pike: {reference: pike.png}\n  kit:\n    description: a teenage deckhand in a green beanie\n"
    )
    board = load_storyboard(script)
    pike, kit = board.characters["pike"], board.characters["kit"]
    assert (pike.description, pike.reference, pike.origin.how) == ("a weathered fisherman in a yellow raincoat", "pike.png", "appositive")
    assert (kit.description, kit.origin.how, kit.origin.line) == ("a teenage deckhand in a green beanie", "sidecar", 4)
    graph = plan_storyboard(board)
    assert graph.shot("s07").prompt.prompt == "A teenage deckhand in a green beanie shrugs and leaves."


def test_plan_shows_descriptions_origins_and_the_name_only_warning() -> None:
    code, out, err = run_cli("plan", str(HARBOUR), "--json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["s03"]["characters"] == ["pike", "june"]
    assert rows["s03"]["cast"][0] == {"id": "pike", "description": "a weathered fisherman in a yellow raincoat",
                                      "names": ["OLD PIKE", "PIKE"], "from": f"{HARBOUR}:10 (appositive)", "look": "base"}
    assert "character kit" in err and "never describes 'Kit'" in err and "harbour.fountain.yaml" in err
    code, out, _ = run_cli("plan", str(HARBOUR))
    assert code == 0 and "characters" in out and "line 10 (appositive)" in out and "line 26 (name only)" in out
    code, _, err = run_cli("validate", str(HARBOUR), "--strict")
    assert code == 2 and "character kit" in err


def test_a_changed_description_makes_exactly_its_shots_stale(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "film" / "harbour.fountain"
    script.parent.mkdir()
    script.write_text(HARBOUR.read_text())
    settings = load_settings(tmp_path / "home", db_url)
    submit_file(settings, script, "harbour")
    (script.parent / "harbour.fountain.yaml").write_text("characters:\n  pike: {description: a wiry old fisherman in a black coat}\n")
    _, board, graph, changes = submit_file(settings, script, "harbour")
    state = {c.id: (c.state, c.reason) for c in changes}
    with_pike = {s.id for s in graph.shots if "pike" in s.characters}
    assert with_pike == {"s03", "s09"}
    assert {k for k, (_, why) in state.items() if why == "prompt changed"} == with_pike
    # Later shots of the same chains follow their upstream; every other shot is untouched.
    assert state["s04"] == ("stale", "upstream s03 changed")
    assert state["s10"] == ("stale", "upstream s09 changed") and state["s11"] == ("stale", "upstream s10 changed")
    assert all(state[k] == ("unchanged", None) for k in ("s01", "s02", "s05", "s06", "s07", "s08"))


CSV = """\
scene,shot,description,characters
1,s1,Ana enters the cafe and sits by the window,
1,s2,She orders coffee,
1,s3,The barista smiles,barista
2,s4,The street is empty,
"""


def test_csv_descriptions_name_characters(write) -> None:
    board_path = write("list.csv", CSV)
    write("list.csv.yaml", "characters:\n  ana: {description: a woman in a green coat}\n  barista: {description: a young barista with a nose ring}\n")
    board = load_storyboard(board_path)
    cast = {shot.id: shot.characters for _, shot in board.shot_list()}
    assert cast == {"s1": ("ana",), "s2": ("ana",), "s3": ("barista",), "s4": ()}
    prompts = {s.id: s.prompt.prompt for s in plan_storyboard(board).shots}
    assert prompts["s1"] == "A woman in a green coat enters the cafe and sits by the window."
    assert prompts["s2"] == "A woman in a green coat orders coffee."
    assert prompts["s3"] == "A young barista with a nose ring is in the shot. The barista smiles."
