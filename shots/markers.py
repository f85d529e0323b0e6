"""What a screenplay line or paragraph is besides a picture: transitions and markers (in any
emphasis), and the camera beats an action paragraph splits at.

`line_marker` reads a line in capitals: a transition (``CUT TO:``, ``DISSOLVE TO:``), a title
card (``TITLE OVER:``, ``SUPER:``), ``INTERCUT``, or a line that is no shot (``FADE IN:``,
montage and series markers). `beats` splits a paragraph at the sentences that open with a
camera marker (``ANGLE ON``, ``CLOSE ON``, ``WE SEE``, ``POV``, ``ON NAME``) and takes the
camera from the marker. String scanning, linear in the text.
"""

from __future__ import annotations

import re

_EMPHASIS = re.compile(r"[*_]+")
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?:])\s+)(?=\S)")
_FADES = frozenset({"FADE IN", "FADE UP", "FADE OUT", "FADE TO BLACK", "CUT TO BLACK", "BLACKOUT", "THE END", "END",
                    "SMASH TO BLACK", "OPEN ON", "CONTINUOUS", "LATER", "MOMENTS LATER"})
_MONTAGE_WORDS = ("MONTAGE", "SERIES OF SHOTS", "SERIES OF", "FLASHBACK", "DREAM SEQUENCE", "SEQUENCE")
_TITLES = ("TITLE OVER", "TITLE CARD", "TITLE", "SUPER", "SUPERIMPOSE", "CHYRON", "CARD", "CAPTION")
_CAMERAS = (
    ("EXTREME CLOSE ON", "extreme close-up"), ("EXTREME CLOSE-UP", "extreme close-up"), ("EXTREME CLOSE UP", "extreme close-up"),
    ("CLOSE ON", "close-up"), ("CLOSE UP ON", "close-up"), ("CLOSE-UP ON", "close-up"), ("CLOSE-UP", "close-up"),
    ("CLOSE UP", "close-up"), ("CLOSEUP", "close-up"), ("ANGLE ON", "new angle"), ("NEW ANGLE", "new angle"),
    ("REVERSE ANGLE", "reverse angle"), ("WIDE ON", "wide shot"), ("WIDE SHOT", "wide shot"), ("INSERT", "insert close-up"),
    ("WE SEE", ""), ("BACK ON", ""), ("ON", "close-up"),
)  # fmt: skip


def line_marker(line: str) -> tuple[str, str] | None:
    """What a line in capitals that is no picture means: ``("cut"|"dissolve", "")`` for a
    transition, ``("title", rest)``, ``("intercut", "")``, ``("skip", "")`` (fades, montage and
    series markers); None for anything else."""
    core = _EMPHASIS.sub("", line).strip()
    forced = core.startswith(">") and not core.endswith("<")
    core = core.lstrip(">").strip()
    head, colon, rest = core.partition(":")
    if head != head.upper() or not any(c.isalpha() for c in head):
        return None
    words = " ".join(head.rstrip(".").split())
    if any(words == t or words.startswith(t + " ") and len(words) < len(t) + 12 for t in _TITLES) and colon:
        return "title", rest.strip()
    if rest.strip() and not forced:
        return None
    if words.endswith(" TO") or words.endswith("TO") and forced:
        return ("dissolve" if "DISSOLVE" in words or words.startswith("FADE") else "cut"), ""
    if words.startswith("INTERCUT") or words in ("BACK TO SCENE", "BACK TO PRESENT", "END INTERCUT"):
        return "intercut", ""
    if words in _FADES or any(w in words for w in _MONTAGE_WORDS) and len(words.split()) <= 5:
        return "skip", ""
    return ("cut", "") if forced else None


def beats(text: str) -> list[tuple[str, str | None]]:
    """A paragraph split at the sentences that open with a camera marker: (text, camera)."""
    beats: list[tuple[str, str | None]] = []
    current: list[str] = []
    camera: str | None = None
    for sentence in _sentences(text):
        found = _camera(sentence)
        if found is not None:
            if current:
                beats.append((" ".join(current), camera))
            current, camera = [found[1]], found[0]
        else:
            current.append(sentence)
    if current:
        beats.append((" ".join(current), camera))
    return [(b, c) for b, c in beats if b.strip()] or [(text, None)]


def _sentences(text: str) -> list[str]:
    cuts = [m.start() for m in _SENTENCE_START.finditer(text)]
    return [text[a:b].strip() for a, b in zip(cuts, cuts[1:] + [len(text)]) if text[a:b].strip()]


def _camera(sentence: str) -> tuple[str, str] | None:
    """(camera, the sentence without its marker) for ``CLOSE ON Edward, smiling`` → ("close-up",
    "Edward, smiling"); ``HIS POV`` → a point-of-view shot; None without a marker."""
    head = sentence.split(" ", 1)
    first = head[0].rstrip(":,.")
    if first.endswith("POV") and first.isupper() or sentence.startswith(("POV", "HIS POV", "HER POV")):
        rest = sentence.split("POV", 1)[1].lstrip(" :,-—.")
        return "point-of-view shot", capitalised(rest)
    for marker, camera in _CAMERAS:
        if sentence.startswith(marker) and sentence[len(marker) : len(marker) + 1] in (" ", ":", ",", "—", "-"):
            rest = sentence[len(marker) :].lstrip(" :,-—")
            if marker == "ON" and not rest[:1].isupper():
                return None
            if not rest:
                return None
            return camera, capitalised(rest)
    return None


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
