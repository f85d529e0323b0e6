"""Fountain screenplays (https://fountain.io/syntax) as storyboards.

Scene headings become scenes; each action paragraph becomes a shot; `CUT TO:` and
`SMASH CUT TO:` are cuts, `DISSOLVE TO:` a crossfade; dialogue is kept as shot context.

Characters are the cued speakers (and those the sidecar `<screenplay>.yaml` defines). Each is
described by the first action line that introduces it in capitals (`shots.cast.describe`:
``JUNE HARLOW, a lanky mechanic in oil-stained overalls, …``), a cue naming part of that name
(``JUNE``, ``PIKE`` for ``OLD PIKE``) is the same character, and a character without such a
line is described by its name, which `plan` warns about. A shot has the characters its action
names, those its pronouns refer to, and the visible speakers of its dialogue
(`shots.cast.scene_cast`) — not everyone cued somewhere in the scene.

No registry parser reports source lines, which our error messages need, so this follows the
spec directly.

Every step is linear in the length of the screenplay: no regular expression here can
backtrack (character classes under one quantifier, or plain string scanning), so one hostile
line cannot stall a worker that validates an upload.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shots.cast import (
    MAX_NAME_WORDS,
    NameIndex,
    Run,
    Said,
    Seen,
    capital_runs,
    describe,
    gender,
    introduces_someone,
    name_key,
    scene_cast,
)
from shots.parsing import Locator

DISSOLVE_SECONDS = 1.0

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\s.]", re.IGNORECASE)
_UPPER_LINE = re.compile(r"[A-Z0-9 .'-]+")
_CUE_NAME = re.compile(r"[A-Z][A-Z0-9 .'-]*")
_EMPHASIS = re.compile(r"[*_]+")
_MAX_TRIES = 20  # introductions tried per character name
_MAX_SILENT = 500  # capital names beside a comma tried as characters who never speak


def _strip_spans(text: str, opening: str, closing: str) -> str:
    """``text`` without each ``opening … closing`` span (newlines inside kept, so line numbers
    hold); an unclosed span is left as text. One scan, linear in the text."""
    out: list[str] = []
    at = 0
    while (start := text.find(opening, at)) != -1:
        end = text.find(closing, start + len(opening))
        if end == -1:
            break
        out.append(text[at:start])
        out.append("\n" * text.count("\n", start, end))
        at = end + len(closing)
    out.append(text[at:])
    return "".join(out)


@dataclass
class _Action:
    """An action paragraph: one shot."""

    text: str
    line: int
    line_starts: list[int]  # offset in ``text`` of each source line of the paragraph
    shot: int = 0  # its shot's index in the scene
    title: bool = False  # centred text (> TEXT <): a title card, with nobody in it

    def line_of(self, offset: int) -> int:
        return self.line + bisect.bisect_right(self.line_starts, offset) - 1


@dataclass
class _Speech:
    """A cue and its dialogue; ``shot`` is the shot it belongs to (None: the next one)."""

    cue: str
    visible: bool  # not (V.O.), (O.S.), (O.C.)
    shot: int | None
    line: int


@dataclass
class _Scene:
    id: str
    heading: str | None
    line: int
    shots: list[dict[str, Any]] = field(default_factory=list)
    actions: list[_Action] = field(default_factory=list)
    events: list[_Action | _Speech] = field(default_factory=list)
    pending_dialogue: list[str] = field(default_factory=list)


def character_id(name: str) -> str:
    """``OLD MAN`` → ``old_man``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "character"


def parse_fountain(
    text: str, known_characters: Mapping[str, Any] | Iterable[str] = (), file: str = "screenplay.fountain"
) -> tuple[dict[str, Any], Locator]:
    """A raw storyboard dict (YAML shape) and a locator for a Fountain screenplay.

    Args:
        text: The screenplay.
        known_characters: Characters defined elsewhere (the sidecar), by id, with their
            ``names`` when given; they join a shot when named.
        file: The screenplay's name, for where a description came from.
    """
    text = _strip_spans(_strip_spans(text, "/*", "*/"), "[[", "]]")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title, start = _title_page(lines)
    locator = Locator()
    scenes: list[_Scene] = []

    def scene() -> _Scene:
        if not scenes:
            scenes.append(_Scene(f"sc{len(scenes) + 1:02d}", None, start + 1))
        return scenes[-1]

    i = start
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        blank_before = i == 0 or not lines[i - 1].strip()
        if not line or line.startswith(("#", "=")):
            i += 1
            continue
        if blank_before and (_HEADING.match(line) or (line.startswith(".") and not line.startswith(".."))):
            heading = line[1:].strip() if line.startswith(".") else line
            if heading.endswith("#") and (mark := heading.rfind("#", 0, len(heading) - 1)) > 0:
                heading = heading[:mark].rstrip()  # a scene number: INT. HOUSE #12#
            scenes.append(_Scene(f"sc{len(scenes) + 1:02d}", heading, i + 1))
            i += 1
            continue
        next_blank = i + 1 >= n or not lines[i + 1].strip()
        forced_transition = line.startswith(">") and not line.endswith("<")
        transition = line.endswith("TO:") and _UPPER_LINE.fullmatch(line[:-3]) is not None
        if blank_before and next_blank and (transition or forced_transition):
            _apply_transition(scene(), line.lstrip(">").strip().upper())
            i += 1
            continue
        cue = _cue(line) if blank_before and not next_blank else None
        if cue is not None:
            i = _dialogue(lines, i, cue, scene())
            continue
        # Action paragraph: runs until a blank line.
        para_start = i
        parts: list[str] = []
        starts: list[int] = []
        centred = True
        at = 0
        while i < n and lines[i].strip():
            raw = lines[i].strip()
            centred = centred and raw.startswith(">") and raw.endswith("<")
            starts.append(at)
            part = _EMPHASIS.sub("", raw.lstrip("!").strip("><").strip())
            parts.append(part)
            at += len(part) + 1
            i += 1
        action = " ".join(parts)
        if action.strip():
            _add_shot(scene(), _Action(action, para_start + 1, starts, title=centred))
    return _assemble(title, scenes, known_characters, file, locator), locator


def _title_page(lines: list[str]) -> tuple[str | None, int]:
    """The title and the index of the first body line (after an optional title page)."""
    if not lines or not re.match(r"^[A-Za-z][A-Za-z ]*:", lines[0]):
        return None, 0
    title = None
    for i, line in enumerate(lines):
        if not line.strip():
            return title, i + 1
        key, _, value = line.partition(":")
        if key.strip().lower() == "title":
            title = _EMPHASIS.sub("", value).strip() or None
            j = i + 1
            while not title and j < len(lines) and lines[j].startswith((" ", "\t")):
                title = _EMPHASIS.sub("", lines[j]).strip() or None
                j += 1
    return title, len(lines)


def _cue(line: str) -> str | None:
    """The character name of a cue line (``MAYA``, ``TOM (V.O.)``, ``@McCLANE``, ``BRICK ^``)."""
    if line.startswith("@"):
        return line[1:].split("(")[0].strip().rstrip("^").strip() or None
    name = line.rstrip().removesuffix("^").rstrip()
    if name.endswith(")") and "(" in name:  # an extension: (V.O.), (CONT'D)
        name = name[: name.index("(")].rstrip()
    if not _CUE_NAME.fullmatch(name) or not any(c.isalpha() for c in name) or _HEADING.match(line):
        return None
    return name.strip()


def _heard_only(line: str) -> bool:
    """A cue whose speaker is heard, not seen: ``TOM (V.O.)``, ``ANA (O.S.)``."""
    extension = line[line.find("(") :].upper().replace(".", "").replace(" ", "") if "(" in line else ""
    return any(mark in extension for mark in ("(VO", "(OS", "(OC"))


def _dialogue(lines: list[str], i: int, cue: str, scene: _Scene) -> int:
    """Consume a character cue and its dialogue; returns the next line index."""
    shot = len(scene.shots) - 1 if scene.shots else None
    scene.events.append(_Speech(cue, not _heard_only(lines[i]), shot, i + 1))
    i += 1
    spoken: list[str] = []
    while i < len(lines) and lines[i].strip():
        part = lines[i].strip()
        if not (part.startswith("(") and part.endswith(")")):
            spoken.append(_EMPHASIS.sub("", part))
        i += 1
    if spoken:
        text = f"{cue}: {' '.join(spoken)}"
        if scene.shots:
            scene.shots[-1]["dialogue"].append(text)
        else:
            scene.pending_dialogue.append(text)
    return i


def _add_shot(scene: _Scene, action: _Action) -> None:
    action.shot = len(scene.actions)
    prompt = f'A title card reading "{" ".join(action.text.split())}"' if action.title else action.text
    scene.shots.append({"prompt": prompt, "dialogue": scene.pending_dialogue})
    scene.pending_dialogue = []
    scene.actions.append(action)
    scene.events.append(action)


def _apply_transition(scene: _Scene, text: str) -> None:
    if not scene.shots:
        return
    scene.shots[-1]["transition"] = {"crossfade": DISSOLVE_SECONDS} if "DISSOLVE" in text else "cut"


def _title(name: str) -> str:
    return " ".join(w.capitalize() if w.isupper() else w for w in name.split())


@dataclass
class _Candidate:
    """A capital run that may introduce a character: the n-th run of the screenplay."""

    order: int
    run: Run
    action: _Action


def _runs_by_key(scenes: list[_Scene]) -> dict[tuple[str, ...], list[_Candidate]]:
    """Capital runs by every name they could be cued by (their first or last words), at most
    `_MAX_TRIES` each, in screenplay order."""
    found: dict[tuple[str, ...], list[_Candidate]] = {}
    order = 0
    for sc in scenes:
        for action in sc.actions:
            for run in capital_runs(action.text):
                order += 1
                words = name_key(run.text)
                for n in range(1, min(len(words), MAX_NAME_WORDS) + 1):
                    for key in {words[:n], words[-n:]}:
                        bucket = found.setdefault(key, [])
                        if len(bucket) < _MAX_TRIES:
                            bucket.append(_Candidate(order, run, action))
    return found


def _characters(scenes: list[_Scene], known: Mapping[str, Any], file: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every cued character (aliases joined: ``OLD PIKE`` cued ``PIKE`` is one) with its names,
    description and where that came from; and each cue spelling's character id."""
    speeches = [e for sc in scenes for e in sc.events if isinstance(e, _Speech)]
    by_key: dict[tuple[str, ...], list[_Speech]] = {}
    for speech in speeches:
        by_key.setdefault(name_key(speech.cue), []).append(speech)
    runs = _runs_by_key(scenes)
    groups: dict[object, list[tuple[str, ...]]] = {}
    for key in by_key:
        intro = runs.get(key)
        groups.setdefault(intro[0].order if intro else key, []).append(key)
    cue_words = frozenset(w.upper() for key in by_key for w in key)
    characters: dict[str, dict[str, Any]] = {}
    cue_ids: dict[str, str] = {}
    for keys in groups.values():
        spellings = list(dict.fromkeys(s.cue for key in keys for s in by_key[key]))
        cid = character_id(min(spellings, key=lambda c: (len(c), c)))
        while cid in characters:
            cid += "_2"
        candidates = sorted({id(c): c for key in keys for c in runs.get(key, [])}.values(), key=lambda c: c.order)
        names = list(dict.fromkeys([c.run.text for c in candidates[:1]] + spellings))
        own = frozenset(w.upper() for key in keys for w in key)
        entry: dict[str, Any] | None = None
        for candidate in candidates[:_MAX_TRIES]:
            found = describe(candidate.action.text, candidate.run, cue_words - own)
            if found:
                line = candidate.action.line_of(candidate.run.start)
                entry = {"description": found[0], "origin": {"file": file, "line": line, "how": found[1]}}
                break
        if entry is None:
            first = candidates[0] if candidates else None
            line = first.action.line_of(first.run.start) if first else min(s.line for key in keys for s in by_key[key])
            shortest = min(spellings, key=len)
            # JUNE HARLOW cued JUNE is "June Harlow"; AKA DAN cued DAN is "Dan".
            name = first.run.text if first and name_key(first.run.text)[: len(name_key(shortest))] == name_key(shortest) else shortest
            entry = {"description": _title(name), "origin": {"file": file, "line": line, "how": "name only"}}
        characters[cid] = {**entry, "names": names}
        for spelling in spellings:
            cue_ids[spelling] = cid
    _silent(scenes, characters, by_key.keys() | set(known), cue_words, file)
    return characters, cue_ids


def _silent(scenes: list[_Scene], characters: dict[str, dict[str, Any]], cued: set[Any], cue_words: frozenset[str], file: str) -> None:
    """Add the characters who never speak but are introduced as people
    (``THE HARBOURMASTER, a stout man with a clipboard, …``; `introduces_someone`)."""
    tries = 0
    for sc in scenes:
        for action in sc.actions:
            for run in capital_runs(action.text):
                key = name_key(run.text)
                if len(key) > MAX_NAME_WORDS or any(key[:n] in cued or key[-n:] in cued for n in range(1, len(key) + 1)):
                    continue
                after = action.text[run.end : run.end + 1]
                before = action.text[max(0, run.start - 8) : run.start].lower()
                if after != "," and not before.endswith(("named ", "called ")):
                    continue
                tries += 1
                if tries > _MAX_SILENT:
                    return
                found = describe(action.text, run, cue_words)
                if not found or not introduces_someone(found):
                    continue
                words = [w for w in run.words if w.upper() not in {"THE", "A", "AN"}] or list(run.words)
                cid = character_id(" ".join(words))
                if cid in characters:
                    continue
                line = action.line_of(run.start)
                characters[cid] = {"description": found[0], "origin": {"file": file, "line": line, "how": found[1]},
                                   "names": [run.text]}
                cued.add(key)


def _assemble(
    title: str | None,
    scenes: list[_Scene],
    known: Mapping[str, Any] | Iterable[str],
    file: str,
    locator: Locator,
) -> dict[str, Any]:
    sidecar = known if isinstance(known, Mapping) else dict.fromkeys(known, {})
    for sc in scenes:
        if not sc.shots and (sc.pending_dialogue or sc.heading or sc.events):
            _add_shot(sc, _Action(sc.heading or "", sc.line, [0]))
    characters, cue_ids = _characters(scenes, sidecar, file)
    names: dict[str, tuple[str, ...]] = {cid: tuple(c["names"]) for cid, c in characters.items()}
    genders: dict[str, str | None] = {}
    for cid, given in sidecar.items():
        given = given if isinstance(given, Mapping) else {}
        extra = tuple(n for n in given.get("names") or () if isinstance(n, str))
        names[cid] = names.get(cid, ()) + (extra or (() if cid in names else (cid.replace("_", " "),)))
        if isinstance(given.get("description"), str):
            genders[cid] = gender(given["description"])
    for cid, character in characters.items():
        genders.setdefault(cid, gender(character["description"]))
    index = NameIndex(names)
    raw_scenes: list[dict[str, Any]] = []
    number = 0
    for sc in scenes:
        if not sc.shots:
            continue
        sc.shots[-1]["dialogue"] += sc.pending_dialogue
        events: list[Said | Seen] = [
            Said(e.shot, "" if e.title else e.text) if isinstance(e, _Action)
            else Seen(cue_ids[e.cue], e.shot, e.visible)
            for e in sc.events
        ]
        cast = scene_cast(events, index, genders, len(sc.shots))
        locator.lines[("scenes", len(raw_scenes))] = sc.line
        shots = []
        for sj, (shot, action) in enumerate(zip(sc.shots, sc.actions)):
            number += 1
            shot.update(id=f"s{number:02d}", characters=cast[sj], dialogue=tuple(shot["dialogue"]))
            shots.append(shot)
            locator.lines[("scenes", len(raw_scenes), "shots", sj)] = action.line
        raw_scenes.append({"id": sc.id, "heading": sc.heading, "shots": shots})
    return {"title": title or "Untitled", "characters": characters, "scenes": raw_scenes}
