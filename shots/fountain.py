"""Fountain screenplays (https://fountain.io/syntax) as storyboards.

Scene headings become scenes; each action paragraph becomes a shot; characters with cues in a
scene (and known characters named in a paragraph) appear in its shots; `CUT TO:` and
`SMASH CUT TO:` are cuts, `DISSOLVE TO:` a crossfade; dialogue is kept as shot context. A
character is described by the action sentence that first names it in capitals, unless the
sidecar file (`<screenplay>.yaml`) defines it. No registry parser reports source lines, which
our error messages need, so this follows the spec directly.

Every step is linear in the length of the screenplay: no regular expression here can
backtrack (character classes under one quantifier, or plain string scanning), so one hostile
line cannot stall a worker that validates an upload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shots.parsing import Locator

DISSOLVE_SECONDS = 1.0

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\s.]", re.IGNORECASE)
_UPPER_LINE = re.compile(r"[A-Z0-9 .'-]+")
_CUE_NAME = re.compile(r"[A-Z][A-Z0-9 .'-]*")
_EMPHASIS = re.compile(r"[*_]+")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ'-")


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


def _capital_names(text: str) -> list[str]:
    """Runs of words in capitals (``OLD PIKE``), as written, in order of appearance."""
    names: list[str] = []
    run: list[str] = []
    for raw in text.split():
        word = raw.strip(".,;:!?\"()[]")
        capital = len(word) >= 2 and word[0].isascii() and word[0].isupper() and all(c in _NAME_CHARS for c in word)
        if capital:
            run.append(word)
        if run and (not capital or word != raw.rstrip(".,;:!?\")\"")):
            names.append(" ".join(run))
            run = []
    if run:
        names.append(" ".join(run))
    return names


@dataclass
class _Scene:
    id: str
    heading: str | None
    line: int
    shots: list[dict[str, Any]] = field(default_factory=list)
    shot_lines: list[int] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    pending_dialogue: list[str] = field(default_factory=list)


def character_id(name: str) -> str:
    """``OLD MAN`` → ``old_man``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "character"


def parse_fountain(text: str, known_characters: Iterable[str] = ()) -> tuple[dict[str, Any], Locator]:
    """A raw storyboard dict (YAML shape) and a locator for a Fountain screenplay.

    Args:
        text: The screenplay.
        known_characters: Ids defined elsewhere (the sidecar); they join a shot when named.
    """
    text = _strip_spans(_strip_spans(text, "/*", "*/"), "[[", "]]")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title, start = _title_page(lines)
    locator = Locator()
    scenes: list[_Scene] = []
    intros: dict[str, str] = {}  # character id → first action sentence naming it

    def scene() -> _Scene:
        if not scenes:
            scenes.append(_Scene(f"sc{len(scenes) + 1:02d}", None, start + 1))
        return scenes[-1]

    i = start
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        blank_before = i == 0 or not lines[i - 1].strip()
        if not line or line.startswith(("#", "=")) and not line.startswith("==="):
            i += 1
            continue
        if line.startswith("==="):
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
        para: list[str] = []
        while i < n and lines[i].strip():
            para.append(lines[i].strip().lstrip("!").strip("><").strip())
            i += 1
        action = _EMPHASIS.sub("", " ".join(p for p in para if p))
        if action:
            _add_shot(scene(), action, para_start + 1)
            for name in _capital_names(action):
                intros.setdefault(character_id(name), _sentence_with(action, name))
    return _assemble(title, scenes, intros, set(known_characters), locator), locator


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


def _dialogue(lines: list[str], i: int, cue: str, scene: _Scene) -> int:
    """Consume a character cue and its dialogue; returns the next line index."""
    cid = character_id(cue)
    if cid not in scene.speakers:
        scene.speakers.append(cid)
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


def _add_shot(scene: _Scene, action: str, line: int) -> None:
    shot = {"prompt": action, "dialogue": scene.pending_dialogue, "mentions": action}
    scene.pending_dialogue = []
    scene.shots.append(shot)
    scene.shot_lines.append(line)


def _apply_transition(scene: _Scene, text: str) -> None:
    if not scene.shots:
        return
    scene.shots[-1]["transition"] = {"crossfade": DISSOLVE_SECONDS} if "DISSOLVE" in text else "cut"


def _sentence_with(text: str, name: str) -> str:
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if name in sentence:
            return sentence.strip()
    return text


def _named(text: str, by_words: dict[tuple[str, ...], str], longest: int) -> list[str]:
    """Characters whose name (one or more words, any case) appears in ``text``: each run of up
    to ``longest`` words is looked up once, so the cost is linear in the text."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    found = {
        by_words[key]
        for i in range(len(words))
        for n in range(1, longest + 1)
        if (key := tuple(words[i : i + n])) in by_words
    }
    return sorted(found)


def _assemble(
    title: str | None,
    scenes: list[_Scene],
    intros: dict[str, str],
    known: set[str],
    locator: Locator,
) -> dict[str, Any]:
    speakers = {cid for sc in scenes for cid in sc.speakers}
    characters = {
        cid: {"description": intros.get(cid, cid.replace("_", " ").title())} for cid in sorted(speakers)
    }
    cast_pool = sorted(speakers | known)
    by_words = {tuple(cid.split("_")): cid for cid in cast_pool}
    longest = max((len(words) for words in by_words), default=0)
    raw_scenes: list[dict[str, Any]] = []
    number = 0
    for si, sc in enumerate(scenes):
        if not sc.shots and sc.pending_dialogue or not sc.shots and sc.heading:
            _add_shot(sc, sc.heading or "", sc.line)
        if not sc.shots:
            continue
        sc.shots[-1]["dialogue"] += sc.pending_dialogue
        locator.lines[("scenes", len(raw_scenes))] = sc.line
        shots = []
        for sj, (shot, line) in enumerate(zip(sc.shots, sc.shot_lines)):
            number += 1
            mentions = shot.pop("mentions")
            named = _named(mentions, by_words, longest)
            cast = list(dict.fromkeys(sc.speakers + sorted(named)))
            shot.update(id=f"s{number:02d}", characters=cast, dialogue=tuple(shot["dialogue"]))
            shots.append(shot)
            locator.lines[("scenes", len(raw_scenes), "shots", sj)] = line
        raw_scenes.append({"id": sc.id, "heading": sc.heading, "shots": shots})
    return {"title": title or "Untitled", "characters": characters, "scenes": raw_scenes}
