"""Fountain screenplays (https://fountain.io/syntax) as storyboards.

Scene headings become scenes; each action paragraph becomes a shot, split further at camera
beats (``ANGLE ON``, ``CLOSE ON``, ``WE SEE``, ``POV``: the camera is taken from the marker);
paragraphs of fewer than `MIN_WORDS` words join the shot before (or, opening a scene, the one
after), and a ``...`` continuation joins the paragraph after it. ``CUT TO:`` and the other
``… TO:`` transitions are cuts, ``DISSOLVE TO:`` a crossfade; ``FADE IN:``, ``INTERCUT WITH:``,
montage and series markers are not shots (in any emphasis); ``TITLE OVER:`` / ``SUPER:`` and
centred text make a title card. What stands before ``FADE IN:`` (a title page's note) is not a
scene. Dialogue is part of its shot: the visible speakers are present and speaking ("… speaks,
whispering" from a parenthetical), the lines are stored on the shot. A shot lasts
`BASE_SECONDS` plus `ACTION_SECONDS_PER_WORD` a word of action and `SPOKEN_SECONDS_PER_WORD` a
spoken word, within the family's limits.

Who the characters are, their descriptions and looks: `shots.screenplay`. Who is in a shot: the
characters its action names, those its pronouns refer to, and the visible speakers of its
dialogue (`shots.cast.scene_cast`).

No registry parser reports source lines, which our error messages need, so this follows the
spec directly. Every step is linear in the length of the screenplay: no regular expression here
can backtrack, so one hostile line cannot stall a worker that validates an upload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from shots.cast import NameIndex, Said, Seen, scene_cast
from shots.grammar import gender
from shots.looks import period_of
from shots.markers import beats, capitalised, line_marker
from shots.parsing import Locator
from shots.screenplay import Paragraph, ParsedScene, Speech, find_cast

DISSOLVE_SECONDS = 1.0
MIN_WORDS = 4
"""A paragraph of fewer words (``Backstage.``, ``Various shots.``) is no shot of its own."""
BASE_SECONDS = 2.0
ACTION_SECONDS_PER_WORD = 0.15
SPOKEN_SECONDS_PER_WORD = 0.4  # 150 words a minute
TITLE_SECONDS = 3.0

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\s.]", re.IGNORECASE)
_CUE_NAME = re.compile(r"[A-Z][A-Z0-9 .'-]*")
_EMPHASIS = re.compile(r"[*_]+")


def _strip_spans(text: str, opening: str, closing: str, to_end: bool = False) -> str:
    """``text`` without each ``opening … closing`` span (newlines inside kept, so line numbers
    hold); an unclosed span is left as text, or with ``to_end`` runs to the end. One scan."""
    out: list[str] = []
    at = 0
    while (start := text.find(opening, at)) != -1:
        end = text.find(closing, start + len(opening))
        if end == -1:
            if to_end:
                out += [text[at:start], "\n" * text.count("\n", start)]
                return "".join(out)
            break
        out.append(text[at:start])
        out.append("\n" * text.count("\n", start, end))
        at = end + len(closing)
    out.append(text[at:])
    return "".join(out)


def parse_fountain(
    text: str, known_characters: Mapping[str, Any] | Iterable[str] = (), file: str = "screenplay.fountain",
    seconds: tuple[float, float] = (1.0, 5.0),
) -> tuple[dict[str, Any], Locator]:
    """A raw storyboard dict (YAML shape) and a locator for a Fountain screenplay.

    Args:
        text: The screenplay.
        known_characters: Characters defined elsewhere (the sidecar), by id, with their
            ``names`` when given; they join a shot when named.
        file: The screenplay's name, for where a description came from.
        seconds: The shortest and longest shot the model family renders: durations that
            follow a shot's content stay within them.
    """
    text = _strip_spans(_strip_spans(text, "/*", "*/"), "[[", "]]", to_end=True)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title, start = _title_page(lines)
    start = _after_front_matter(lines, start)
    parser = _Parser(start)
    i, n = start, len(lines)
    while i < n:
        i = parser.line(lines, i)
    parser.flush()
    return _assemble(title, parser.scenes, known_characters, file, parser.locator, seconds), parser.locator


def _after_front_matter(lines: list[str], start: int) -> int:
    """Where the screenplay starts: after ``FADE IN:`` when it comes before the first scene
    heading (what stands before it is a title page's note), else at ``start``."""
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if _HEADING.match(line) or (line.startswith(".") and not line.startswith("..")):
            return start
        if line and line_marker(line) == ("skip", "") and "FADE IN" in _EMPHASIS.sub("", line).upper():
            return i + 1
    return start


class _Parser:
    """Line by line: scenes, paragraphs (split at camera beats, short ones joined), speeches."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.scenes: list[ParsedScene] = []
        self.locator = Locator()
        self.title_next = False
        self.intercut_next = False
        self.carry: list[tuple[str, int]] = []  # short text (and its line) waiting to open the next shot of its scene

    def scene(self) -> ParsedScene:
        if not self.scenes:
            self.scenes.append(ParsedScene("sc01", None, self.start + 1))
        return self.scenes[-1]

    def flush(self) -> None:
        """Short text left over at a scene's end joins its last shot, else is its shot."""
        if self.carry and self.scenes:
            text, line = " ".join(t for t, _ in self.carry), self.carry[0][1]
            self.carry = []
            sc = self.scenes[-1]
            if sc.paragraphs and not sc.paragraphs[-1].title:
                sc.paragraphs[-1].text += " " + text
            else:
                _add_shot(sc, Paragraph(text, line, [0], scene=len(self.scenes) - 1))

    def line(self, lines: list[str], i: int) -> int:
        line = lines[i].strip()
        blank_before = i == 0 or not lines[i - 1].strip()
        next_blank = i + 1 >= len(lines) or not lines[i + 1].strip()
        if not line or line.startswith(("#", "=")):
            return i + 1
        if blank_before and (_HEADING.match(line) or (line.startswith(".") and not line.startswith(".."))):
            self.flush()
            heading = line[1:].strip() if line.startswith(".") else line
            if heading.endswith("#") and (mark := heading.rfind("#", 0, len(heading) - 1)) > 0:
                heading = heading[:mark].rstrip()  # a scene number: INT. HOUSE #12#
            own = period_of(heading)
            period = own if own is not None else (self.scenes[-1].period if self.scenes else None)
            self.scenes.append(ParsedScene(f"sc{len(self.scenes) + 1:02d}", " ".join(heading.split()), i + 1, period,
                                           own is not None, self.intercut_next))
            self.intercut_next = False
            return i + 1
        found = line_marker(line) if blank_before and not (line.startswith(">") and line.endswith("<")) else None
        if found is not None and (next_blank or found[0] in ("title", "skip", "intercut")):
            return self._apply(found, i)
        cue = _cue(line) if blank_before and not next_blank else None
        if cue is not None:
            return _dialogue(lines, i, cue, self.scene())
        return self._paragraph(lines, i)

    def _apply(self, found: tuple[str, str], i: int) -> int:
        kind, rest = found
        sc = self.scene()
        if kind in ("cut", "dissolve"):
            self.flush()
            if sc.shots:
                sc.shots[-1]["transition"] = {"crossfade": DISSOLVE_SECONDS} if kind == "dissolve" else "cut"
        elif kind == "intercut":
            self.intercut_next = True
            sc.intercut = True
        elif kind == "title":
            if rest:
                _add_shot(sc, Paragraph(rest, i + 1, [0], scene=len(self.scenes) - 1, title=True))
            else:
                self.title_next = True
        return i + 1

    def _paragraph(self, lines: list[str], i: int) -> int:
        start = i
        parts: list[str] = []
        starts: list[int] = []
        centred = True
        at = 0
        while i < len(lines) and lines[i].strip():
            raw = lines[i].strip()
            centred = centred and raw.startswith(">") and raw.endswith("<")
            starts.append(at)
            part = _EMPHASIS.sub("", raw.lstrip("!").strip("><").strip())
            parts.append(part)
            at += len(part) + 1
            i += 1
        text = " ".join(parts).strip()
        if not text:
            return i
        sc = self.scene()
        scene_index = len(self.scenes) - 1
        if centred or self.title_next:
            self.title_next = False
            self.flush()
            _add_shot(sc, Paragraph(" ".join(text.split()), start + 1, starts, scene=scene_index, title=True))
            return i
        if text.startswith(("...", "…")):
            self.carry.append((capitalised(text.lstrip(".… ")), start + 1))  # runs on from before a transition
            return i
        text = re.sub(r"(?:,\s*)?\bwe\s*(?:\.\.\.|…)?$", "", text).rstrip(" ,") or text  # "…, we..." before a cut
        for beat, camera in beats(text):
            words = len(beat.split())
            if camera is None and words < MIN_WORDS and sc.paragraphs and not sc.paragraphs[-1].title and not self.carry:
                sc.paragraphs[-1].text += " " + beat
                continue
            if camera is None and words < MIN_WORDS:
                self.carry.append((beat, start + 1))
                continue
            line = start + 1
            if self.carry:
                beat, line = " ".join([*(t for t, _ in self.carry), beat]), self.carry[0][1]
                self.carry = []
            _add_shot(sc, Paragraph(beat, line, starts if beat == text else [0], scene=scene_index, camera=camera or None))
        return i


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


def _dialogue(lines: list[str], i: int, cue: str, scene: ParsedScene) -> int:
    """Consume a character cue and its dialogue; returns the next line index."""
    shot = len(scene.shots) - 1 if scene.shots else None
    speech = Speech(cue, not _heard_only(lines[i]), shot, i + 1)
    scene.events.append(speech)
    i += 1
    spoken: list[str] = []
    while i < len(lines) and lines[i].strip():
        part = lines[i].strip()
        if part.startswith("(") and part.endswith(")"):
            speech.manner = speech.manner or part[1:-1].strip()
        else:
            spoken.append(_EMPHASIS.sub("", part))
        i += 1
    speech.words = sum(len(s.split()) for s in spoken)
    if spoken:
        text = f"{cue}: {' '.join(spoken)}"
        if scene.shots:
            scene.shots[-1]["dialogue"].append(text)
        else:
            scene.pending_dialogue.append(text)
    return i


def _add_shot(scene: ParsedScene, paragraph: Paragraph) -> None:
    paragraph.shot = len(scene.paragraphs)
    scene.shots.append({"dialogue": scene.pending_dialogue})
    scene.pending_dialogue = []
    scene.paragraphs.append(paragraph)
    scene.events.append(paragraph)


def _speaking(speeches: list[Speech]) -> str:
    """``JUNE speaks, grinning.``, ``PIKE and JUNE talk.`` for a shot's visible speakers."""
    cues = list(dict.fromkeys(s.cue for s in speeches if s.visible))
    if not cues:
        return ""
    if len(cues) > 3:
        return f"{', '.join(cues[:3])} and others talk."
    if len(cues) > 1:
        return f"{', '.join(cues[:-1])} and {cues[-1]} talk."
    manner = next((s.manner for s in speeches if s.visible and s.manner), None) or ""
    word = manner.lower() if len(manner.split()) == 1 and manner.isalpha() and manner.islower() else ""
    if word.endswith("ing"):
        return f"{cues[0]} speaks, {word}."
    if word.endswith("ly"):
        return f"{cues[0]} speaks {word}."
    return f"{cues[0]} speaks."


def _duration(paragraph: Paragraph, spoken: int, seconds: tuple[float, float]) -> float:
    if paragraph.title:
        raw = TITLE_SECONDS
    else:
        raw = BASE_SECONDS + ACTION_SECONDS_PER_WORD * paragraph.words() + SPOKEN_SECONDS_PER_WORD * spoken
    return max(seconds[0], min(seconds[1], round(raw * 2) / 2))


def _assemble(
    title: str | None,
    scenes: list[ParsedScene],
    known: Mapping[str, Any] | Iterable[str],
    file: str,
    locator: Locator,
    seconds: tuple[float, float],
) -> dict[str, Any]:
    sidecar = known if isinstance(known, Mapping) else dict.fromkeys(known, {})
    for si, sc in enumerate(scenes):
        if not sc.shots and (sc.pending_dialogue or sc.heading or sc.events):
            _add_shot(sc, Paragraph(sc.heading or "", sc.line, [0], scene=si))
    speeches = [e for sc in scenes for e in sc.events if isinstance(e, Speech)]
    cast = find_cast(scenes, speeches, sidecar, file)
    names: dict[str, tuple[str, ...]] = {cid: tuple(c["names"]) for cid, c in cast.characters.items()}
    genders: dict[str, str | None] = dict(cast.sexes)
    for cid, given in sidecar.items():
        given = given if isinstance(given, Mapping) else {}
        extra = tuple(n for n in given.get("names") or () if isinstance(n, str))
        names[cid] = names.get(cid, ()) + (extra or (() if cid in names else (cid.replace("_", " "),)))
        if isinstance(given.get("description"), str):
            genders[cid] = gender(given["description"])
    index = NameIndex(names)
    raw_scenes: list[dict[str, Any]] = []
    number = 0
    for si, sc in enumerate(scenes):
        if not sc.shots:
            continue
        sc.shots[-1]["dialogue"] += sc.pending_dialogue
        events: list[Said | Seen] = [
            Said(e.shot, "" if e.title else e.text) if isinstance(e, Paragraph) else Seen(cast.cue_ids[e.cue], e.shot, e.visible)
            for e in sc.events
        ]
        present = scene_cast(events, index, genders, len(sc.shots))
        by_shot: dict[int | None, list[Speech]] = {}
        for e in sc.events:
            if isinstance(e, Speech):
                by_shot.setdefault(e.shot if e.shot is not None else 0, []).append(e)
        locator.lines[("scenes", len(raw_scenes))] = sc.line
        shots = []
        for sj, (shot, paragraph) in enumerate(zip(sc.shots, sc.paragraphs)):
            number += 1
            spoken = by_shot.get(sj, [])
            if paragraph.title:
                prompt = f'A title card reading "{" ".join(paragraph.text.split())}"'
            else:
                text = paragraph.text.rstrip(" :;,-—")
                text = text if text.endswith((".", "!", "?", '"', "'")) else text + "."
                prompt = " ".join(filter(None, [text, _speaking(spoken)]))
            shot.update(id=f"s{number:02d}", prompt=prompt, characters=present[sj], dialogue=tuple(shot["dialogue"]),
                        duration=_duration(paragraph, sum(s.words for s in spoken), seconds))
            shot["line"] = paragraph.line
            if paragraph.camera:
                shot["camera"] = paragraph.camera
            if sc.intercut and sj and not set(present[sj]) & set(present[sj - 1]):
                shot["continuity"] = "cut"  # intercut: another place than the shot before
            shots.append(shot)
            locator.lines[("scenes", len(raw_scenes), "shots", sj)] = paragraph.line
        raw_scene: dict[str, Any] = {"id": sc.id, "heading": sc.heading, "line": sc.line, "shots": shots}
        if si in cast.scene_looks:
            raw_scene["looks"] = cast.scene_looks[si]
        raw_scenes.append(raw_scene)
    return {"title": title or "Untitled", "characters": cast.characters, "scenes": raw_scenes}
