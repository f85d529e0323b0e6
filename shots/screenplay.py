"""A parsed screenplay and who is in it: its scenes, paragraphs and speeches, its characters with
their descriptions and later looks.

Characters are the cued speakers (aliases joined: ``OLD PIKE`` cued ``PIKE`` is one; a cue
that adds an age word to another's name — ``YOUNG EDWARD``, ``ADULT EDWARD`` — is that
character in another look), plus people the action introduces without ever speaking. A
character's base look is its first introduction (`shots.intros.introduce`); a later one that
marks a change (``WILL, now 17 with braces``, ``KARL, now 55``) starts a look from its scene
on. A scene shows the look it names (``YOUNG EDWARD``), else — when its heading has a year or
says PRESENT — the look introduced in that period (or the latest before it), else the latest
look introduced so far (`shots.looks`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shots.cast import MAX_NAME_WORDS, Run, capital_runs, name_key
from shots.grammar import PERSON_NOUNS, Age, article, gender, noun_phrase, person_noun
from shots.intros import Intro, describe, introduce, introduces_someone

_MAX_TRIES = 40  # introductions tried per character name
_MAX_SILENT = 500  # capital names beside a comma tried as characters who never speak
AGE_PREFIXES = frozenset("young younger old older adult little teen teenage baby elderly middle-aged grown".split())
"""A cue ``YOUNG EDWARD`` beside a cue ``EDWARD`` is Edward in another look."""


@dataclass
class Paragraph:
    """An action paragraph (or a camera beat of one): one shot."""

    text: str
    line: int
    line_starts: list[int]  # offset in ``text`` of each source line of the paragraph
    scene: int = 0  # its scene's index
    shot: int = 0  # its shot's index in the scene
    title: bool = False  # a title card, with nobody in it
    camera: str | None = None

    def line_of(self, offset: int) -> int:
        return self.line + bisect.bisect_right(self.line_starts, offset) - 1

    def words(self) -> int:
        return len(self.text.split())


@dataclass
class Speech:
    """A cue and its dialogue; ``shot`` is the shot it belongs to (None: the next one)."""

    cue: str
    visible: bool  # not (V.O.), (O.S.), (O.C.)
    shot: int | None
    line: int
    manner: str | None = None  # its first parenthetical: (whispering)
    words: int = 0


@dataclass
class ParsedScene:
    id: str
    heading: str | None
    line: int
    period: int | None = None  # the year its heading names, or PRESENT (`shots.looks.period_of`)
    dated: bool = False  # the period is the heading's own, not the scene before's
    intercut: bool = False  # INTERCUT: its shots alternate between two places
    shots: list[dict[str, Any]] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    events: list[Paragraph | Speech] = field(default_factory=list)
    pending_dialogue: list[str] = field(default_factory=list)


def character_id(name: str) -> str:
    """``OLD MAN`` → ``old_man``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60].strip("_") or "character"


def _title(name: str) -> str:
    return " ".join(w.capitalize() if w.isupper() else w for w in name.split())


@dataclass
class _Candidate:
    """A capital run that may introduce a character: the n-th run of the screenplay."""

    order: int
    run: Run
    paragraph: Paragraph


def _runs_by_key(scenes: list[ParsedScene]) -> dict[tuple[str, ...], list[_Candidate]]:
    """Capital runs by every name they could be cued by (their first or last words), at most
    `_MAX_TRIES` each, in screenplay order."""
    found: dict[tuple[str, ...], list[_Candidate]] = {}
    order = 0
    for sc in scenes:
        for paragraph in sc.paragraphs:
            for run in capital_runs(paragraph.text):
                order += 1
                words = name_key(run.text)
                for n in range(1, min(len(words), MAX_NAME_WORDS) + 1):
                    for key in {words[:n], words[-n:]}:
                        bucket = found.setdefault(key, [])
                        if len(bucket) < _MAX_TRIES:
                            bucket.append(_Candidate(order, run, paragraph))
    return found


def _alias_keys(keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Cue keys that are another cue's name with an age word before it (``young edward`` →
    ``edward``); not common nouns (``LITTLE GIRL`` is not ``GIRL``)."""
    known = set(keys)
    return {
        key: key[1:]
        for key in keys
        if len(key) > 1 and key[0] in AGE_PREFIXES and key[1:] in known and not all(w in PERSON_NOUNS for w in key[1:])
    }


@dataclass
class Cast:
    """Who a screenplay's characters are: entries in the storyboard's shape (description,
    origin, names, looks), each cue spelling's character, each character's sex, and the look
    each scene shows where its order alone would pick another."""

    characters: dict[str, dict[str, Any]]
    cue_ids: dict[str, str]
    sexes: dict[str, str | None]
    scene_looks: dict[int, dict[str, str]]


def _origin(file: str, candidate: _Candidate, how: str, intro: Intro | None = None) -> dict[str, Any]:
    origin: dict[str, Any] = {"file": file, "line": candidate.paragraph.line_of(candidate.run.start), "how": how}
    if intro is not None and intro.cuts:
        text, run = candidate.paragraph.text, candidate.run
        before = "".join(text[a:b] for a, b in intro.cuts if b <= run.start)
        after = "".join(text[a:b] for a, b in intro.cuts if a >= run.end)
        origin["around"] = [before, after]
    return origin


def find_cast(scenes: list[ParsedScene], speeches: list[Speech], known: Mapping[str, Any], file: str) -> Cast:
    """Every character of a parsed screenplay (see the module docstring)."""
    by_key: dict[tuple[str, ...], list[Speech]] = {}
    for speech in speeches:
        by_key.setdefault(name_key(speech.cue), []).append(speech)
    aliases = _alias_keys(list(by_key))
    runs = _runs_by_key(scenes)
    groups: dict[object, list[tuple[str, ...]]] = {}
    for key in by_key:
        if key not in aliases:
            intro = runs.get(key)
            groups.setdefault(intro[0].order if intro else key, []).append(key)
    cue_words = frozenset(w.upper() for key in by_key for w in key)
    cast = Cast({}, {}, {}, {})
    for keys in groups.values():
        spellings = list(dict.fromkeys(s.cue for key in keys for s in by_key[key]))
        cid = character_id(min(spellings, key=lambda c: (len(c), c)))
        while cid in cast.characters:
            cid += "_2"
        alias_keys = [a for a, base in aliases.items() if base in keys]
        alias_spellings = {a: list(dict.fromkeys(s.cue for s in by_key[a])) for a in alias_keys}
        candidates = sorted({id(c): c for key in keys for c in runs.get(key, [])}.values(), key=lambda c: c.order)
        candidates = [c for c in candidates if name_key(c.run.text) not in aliases]
        names = list(dict.fromkeys([c.run.text for c in candidates[:1]] + spellings + [s for a in alias_keys for s in alias_spellings[a]]))
        own = frozenset(w.upper() for key in [*keys, *alias_keys] for w in key)
        entry, base_at, sex, base_age = _base_look(candidates, cue_words - own, file)
        if entry is None:
            first = candidates[0] if candidates else None
            line = first.paragraph.line_of(first.run.start) if first else min(s.line for key in keys for s in by_key[key])
            shortest = min(spellings, key=len)
            # JUNE HARLOW cued JUNE is "June Harlow"; AKA DAN cued DAN is "Dan".
            name = first.run.text if first and name_key(first.run.text)[: len(name_key(shortest))] == name_key(shortest) else shortest
            entry = {"description": _title(name), "origin": {"file": file, "line": line, "how": "name only"}}
        looks = _later_looks(candidates, base_at, scenes, cue_words - own, file, sex, base_age)
        for alias in alias_keys:
            look = _alias_look(alias, alias_spellings[alias][0], runs.get(alias, []), sex, cue_words - own, file)
            if look["origin"]["how"] == "cue" and alias[0] in ("young", "little") and base_age is not None and (base_age.child or base_age.teen):
                look["description"] = entry["description"]  # YOUNG WILL of a Will introduced at 3: that child
            looks.append(look)
        cast.characters[cid] = {**entry, "names": names, **({"looks": looks} if looks else {})}
        cast.sexes[cid] = sex or gender(entry["description"])
        for spelling in [*spellings, *(s for a in alias_keys for s in alias_spellings[a])]:
            cast.cue_ids[spelling] = cid
    _silent(scenes, cast, by_key.keys() | set(known), cue_words, file)
    _choose_scene_looks(scenes, cast)
    return cast


def _base_look(candidates: list[_Candidate], others: frozenset[str], file: str) -> tuple[dict[str, Any] | None, int, str | None, Age | None]:
    """The first introduction among a character's capital runs: its entry, the index of the
    candidate after it, the sex and the age it tells."""
    for i, candidate in enumerate(candidates):
        intro = introduce(candidate.paragraph.text, candidate.run, others)
        if intro is not None and intro.now and candidates[0].paragraph.scene < candidate.paragraph.scene:
            return None, i, intro.sex, None  # "KARL, now 55" after scenes with Karl: a later look, not the first
        if intro is not None:
            return {"description": intro.description, "origin": _origin(file, candidate, intro.how, intro)}, i + 1, intro.sex, intro.age
    return None, 0, None, None


def _later_looks(candidates: list[_Candidate], start: int, scenes: list[ParsedScene], others: frozenset[str], file: str,
                 sex: str | None, base_age: Age | None) -> list[dict[str, Any]]:
    """Looks that later introductions start (an age, "now", "younger"): one per scene at most.
    One that makes the character younger than the look before it (``A younger EDWARD, 20's``)
    is a flashback: it holds in its own scene only."""
    looks: list[dict[str, Any]] = []
    seen_scenes = {candidates[start - 1].paragraph.scene} if start else set()
    age = _years(base_age)
    for candidate in candidates[start:]:
        scene = candidate.paragraph.scene
        if scene in seen_scenes:
            continue
        intro = introduce(candidate.paragraph.text, candidate.run, others, sex)
        if intro is None or not intro.look:
            continue
        seen_scenes.add(scene)
        look: dict[str, Any] = {"from": scenes[scene].id, "description": intro.description,
                                "origin": _origin(file, candidate, intro.how, intro)}
        years = _years(intro.age)
        if {"younger", "young"} & set(intro.said.lower().split() + intro.description.lower().split()[:2]) or \
                years is not None and age is not None and years < age:
            look["flashback"] = True
        elif years is not None:
            age = years
        looks.append(look)
    return looks


def _years(age: Age | None) -> float | None:
    """An age in years, for comparing looks (a decade counts as its middle)."""
    if age is None:
        return None
    return float(age.years) if age.years is not None else (age.decade or 0) + 5.0


def _alias_look(alias: tuple[str, ...], spelling: str, candidates: list[_Candidate], sex: str | None, others: frozenset[str],
                file: str) -> dict[str, Any]:
    """The look a cue like ``YOUNG EDWARD`` names: its own introduction (with the age word
    when it gives no age), else its age word alone: ``a young man``."""
    for candidate in candidates:
        if name_key(candidate.run.text) != alias:
            continue
        intro = introduce(candidate.paragraph.text, candidate.run, others, sex)
        if intro is not None:
            description = intro.description if intro.age is not None or not intro.said else noun_phrase(f"{alias[0]}, {intro.said}", intro.sex)
            return {"named": spelling, "description": description, "origin": _origin(file, candidate, intro.how, intro)}
    line = candidates[0].paragraph.line_of(candidates[0].run.start) if candidates else None
    return {"named": spelling, "description": _age_word_phrase(alias[0], sex), "origin": {"file": file, "line": line, "how": "cue"}}


def _age_word_phrase(word: str, sex: str | None) -> str:
    """``young`` → ``a young man``, ``little`` → ``a little boy``, ``adult`` → ``an adult woman``."""
    age = Age(years=8) if word in ("little", "baby") else Age(years=15) if word in ("teen", "teenage") else None
    noun = person_noun(sex, age)
    lead = noun if word in ("teen", "teenage") else f"{word} {noun}"
    return f"{article(lead)} {lead}"


def _silent(scenes: list[ParsedScene], cast: Cast, cued: set[Any], cue_words: frozenset[str], file: str) -> None:
    """Add the characters who never speak but are introduced as people
    (``THE HARBOURMASTER, a stout man with a clipboard, …``; `introduces_someone`)."""
    tries = 0
    for sc in scenes:
        for paragraph in sc.paragraphs:
            for run in capital_runs(paragraph.text):
                key = name_key(run.text)
                if len(key) > MAX_NAME_WORDS or any(key[:n] in cued or key[-n:] in cued for n in range(1, len(key) + 1)):
                    continue
                after = paragraph.text[run.end : run.end + 1]
                before = paragraph.text[max(0, run.start - 8) : run.start].lower()
                intro = None
                if after != "," and not before.endswith(("named ", "called ")):
                    intro = introduce(paragraph.text, run, cue_words)  # "her gorgeous friend IDA", "his brother TOM"
                    people = [w.lower() for w in paragraph.text[max(0, run.start - 60) : run.start].split()[-3:]] + [run.words[-1].lower()]
                    sound = len(run.words) == 1 and run.words[0].endswith(("S", "ED", "ING"))  # "the crowd APPLAUDS"
                    if sound or intro is None or not intro.how.startswith("before the name") or not any(w in PERSON_NOUNS for w in people):
                        continue
                tries += 1
                if tries > _MAX_SILENT:
                    return
                found = (intro.description, intro.how) if intro else describe(paragraph.text, run, cue_words)
                if not found or not (intro or introduces_someone(found)):
                    continue
                words = [w for w in run.words if w.upper() not in {"THE", "A", "AN"}] or list(run.words)
                cid = character_id(" ".join(words))
                if cid in cast.characters:
                    continue
                line = paragraph.line_of(run.start)
                description = noun_phrase(found[0])
                origin = _origin(file, _Candidate(0, run, paragraph), found[1], intro)
                cast.characters[cid] = {"description": description, "origin": origin, "names": [run.text]}
                cast.sexes[cid] = gender(description)
                cued.add(key)


def _mentions(scene: ParsedScene, spelling: str) -> bool:
    """Whether a scene names a character ``spelling`` (``YOUNG EDWARD``: a cue, or the words in
    its action in any case)."""
    lowered = spelling.lower()
    return any(
        e.cue == spelling if isinstance(e, Speech) else lowered in e.text.lower()
        for e in scene.events
    )


def _choose_scene_looks(scenes: list[ParsedScene], cast: Cast) -> None:
    """Per scene, the look of each character with looks where the scene's order alone would
    pick another: a look the scene names, else the one of the heading's period."""
    positions = {sc.id: i for i, sc in enumerate(scenes)}
    for cid, character in cast.characters.items():
        looks = character.get("looks") or []
        if not looks:
            continue
        base_scene = _scene_at(scenes, character["origin"].get("line"))
        dated = [(scenes[base_scene].period if base_scene is not None else None, "base", base_scene or 0)]
        dated += [(scenes[positions[look["from"]]].period, look["from"], positions[look["from"]]) for look in looks
                  if "from" in look and not look.get("flashback")]
        for si, scene in enumerate(scenes):
            named = next((look["named"] for look in looks if "named" in look and _mentions(scene, look["named"])), None)
            choice = named
            if choice is None and scene.dated and scene.period is not None:
                same = [key for period, key, _ in dated if period == scene.period]
                earlier = sorted((p, at, key) for p, key, at in dated if p is not None and p <= scene.period)
                choice = same[-1] if same else earlier[-1][2] if earlier else None
            if choice is None:
                continue
            by_order = ([key for _, key, at in dated if at <= si and key != "base"] or ["base"])[-1]
            if choice != by_order:
                cast.scene_looks.setdefault(si, {})[cid] = choice


def _scene_at(scenes: list[ParsedScene], line: int | None) -> int | None:
    """The scene holding a source line."""
    if line is None:
        return None
    found = None
    for i, scene in enumerate(scenes):
        if scene.line <= line:
            found = i
    return found
