"""Where a text refers to a character: capital runs that may be names, names matched in action
text, pronouns, who is in each shot of a scene (`shots.intros` reads what an introduction says).

Everything here is string scanning, linear in the text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from shots.grammar import article, gender

DETERMINERS = frozenset(
    "a an the his her their its my your our one two three four five some this that these those another every".split()
)
PREPOSITIONS = frozenset(
    "in on at with of from to into under over by for near behind beside without about across along around "
    "through like as wearing".split()
)
_NOT_DESCRIPTIONS = frozenset(
    "and or but then however too again still now meanwhile though as while when if so yes no".split()
)
_SHORT_STOP = frozenset("in on at with of from who whose that wearing named called and or , ;".split()) | PREPOSITIONS
PRONOUNS = {
    "she": "f", "her": "f", "hers": "f", "herself": "f",
    "he": "m", "him": "m", "his": "m", "himself": "m",
    "they": "p", "them": "p", "their": "p", "theirs": "p", "themselves": "p",
}  # fmt: skip
SUBJECT = frozenset({"she", "he"})
OBJECT = frozenset({"him", "her", "them"})
HONORIFICS = frozenset({"MR", "MRS", "MS", "MISS", "DR", "SIR", "MADAM"})
MAX_NAME_WORDS = 6
_REACH = 2000

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*['’]?")
_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ'’-")
_PUNCT = ".,;:!?\"()[]*_"


@dataclass(frozen=True)
class Run:
    """Words in capitals that may be a name, with their place in the text."""

    start: int
    end: int
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)


@functools.lru_cache(maxsize=1 << 15)
def capital_runs(text: str) -> tuple[Run, ...]:
    """Runs of words written in capitals (``OLD PIKE``), in order; punctuation ends a run and a
    possessive ``'S`` is left off. Cached: finding the cast reads every paragraph twice."""
    runs: list[Run] = []
    words: list[str] = []
    start = end = 0

    def close() -> None:
        if words:
            runs.append(Run(start, end, tuple(words)))
            words.clear()

    for match in _WORD.finditer(text):
        raw = match.group()
        lead = len(raw) - len(raw.lstrip(_PUNCT))
        core = raw.strip(_PUNCT)
        trail = raw[lead + len(core) :]
        word = core[:-2] if core.endswith(("'S", "’S")) else core
        capital = (
            len(word) >= 2 and word[0].isascii() and word[0].isupper()
            and all(c in _NAME_CHARS for c in word) and any(c.isalpha() for c in word)
        )
        if not capital:
            close()
            continue
        if lead and words:
            close()
        if not words:
            start = match.start() + lead
        words.append(word)
        end = match.start() + lead + len(word)
        if word != core or trail and not (trail == "." and word in HONORIFICS):
            close()
    close()
    return tuple(runs)


def name_key(name: str) -> tuple[str, ...]:
    """The words a name is matched by: ``Mr. Steel`` and ``MR STEEL`` → ``('steel',)``."""
    words = [w.strip(".").upper() for w in name.split() if w.strip(".")]
    while len(words) > 1 and words[0] in HONORIFICS:
        words.pop(0)
    return tuple(w.lower() for w in words)


def alias_of(cue: tuple[str, ...], run: tuple[str, ...]) -> bool:
    """Whether a cue (``PIKE``) names the character a run introduces (``OLD PIKE``): the same
    words, or the run's first or last words."""
    return bool(cue) and len(cue) <= len(run) and (run[: len(cue)] == cue or run[-len(cue) :] == cue)


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence holding ``text[start:end]``, looking at most `_REACH`
    characters either way (a description is close to its name; a hostile paragraph without
    full stops must not make every look a scan of the whole text)."""
    low = max(0, start - _REACH)
    s0 = max([low] + [i + 2 for cut in (". ", "! ", "? ") if (i := text.rfind(cut, low, start)) >= 0])
    found = _SENTENCE_END.search(text, end, min(len(text), end + _REACH))
    return s0, (found.start() if found else min(len(text), end + _REACH))


def with_article(description: str) -> str:
    """A description as a noun phrase: ``retired police detective`` → ``a retired police detective``."""
    first = description.split()[0].lower() if description.split() else ""
    if first in DETERMINERS or first in {"someone", "somebody"} or description[:1].isupper():
        return description
    return f"{article(description)} {description}"


def short_phrase(description: str) -> str:
    """How a prompt refers to a character it has described: ``a lanky mechanic in oil-stained
    overalls`` → ``the lanky mechanic``."""
    words = description.replace(",", " , ").split()
    if words and words[0][:1].isupper() and words[0].lower() not in DETERMINERS | {"someone", "somebody"}:
        return description  # a name ("Kit") is said again as itself
    if words and words[0].lower() in DETERMINERS:
        words = words[1:]
    kept: list[str] = []
    for word in words:
        if word.lower() in _SHORT_STOP or len(kept) == 4:
            break
        kept.append(word)
    if not kept or kept[0].lower() in {"someone", "somebody"}:
        return "the person"
    return "the " + " ".join(kept)


@dataclass(frozen=True)
class Mention:
    """A place in a text that refers to a character."""

    start: int
    end: int
    character: str
    pronoun: str | None = None  # the pronoun, lower case, when it is one

    @property
    def is_name(self) -> bool:
        return self.pronoun is None


class NameIndex:
    """Characters' names, matched in text: every word capitalised (``June``, ``JUNE``, not
    ``june``), the longest name first, a possessive ``'s`` left out of the match."""

    def __init__(self, names: dict[str, tuple[str, ...]]) -> None:
        self.by_words: dict[tuple[str, ...], str] = {}
        for cid, forms in names.items():
            for form in forms:
                key = name_key(form)
                if key and len(key) <= MAX_NAME_WORDS:
                    self.by_words.setdefault(key, cid)
        self.longest = max((len(k) for k in self.by_words), default=0)

    def __bool__(self) -> bool:
        return bool(self.by_words)

    def mentions(self, text: str, pronouns: bool = False) -> list[Mention]:
        """Names in ``text`` (and pronouns, with ``character`` empty, when asked), in order."""
        tokens = list(_TOKEN.finditer(text))
        found: list[Mention] = []
        i = 0
        while i < len(tokens):
            token = tokens[i].group()
            if pronouns and (pronoun := token.lower()) in PRONOUNS:
                found.append(Mention(tokens[i].start(), tokens[i].end(), "", pronoun))
                i += 1
                continue
            if not token[:1].isupper():  # a name starts with a capital: no span from here is one
                i += 1
                continue
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                words = [t.group() for t in span]
                last = words[-1]
                trimmed = last[:-2] if last.lower().endswith(("'s", "’s")) else last.rstrip("'’")
                words[-1] = trimmed
                if not all(w[:1].isupper() for w in words):
                    continue
                cid = self.by_words.get(name_key(" ".join(words)))
                if cid is not None:
                    found.append(Mention(span[0].start(), span[-1].start() + len(trimmed), cid))
                    i += n
                    break
            else:
                i += 1
        return found


def possessive_her(text: str, mention: Mention) -> bool:
    """Whether ``her`` at ``mention`` is possessive (``wipes her hands``), not an object."""
    following = text[mention.end :].lstrip()
    word = re.match(r"[A-Za-z]+", following)
    return bool(word) and word.group().lower() not in PREPOSITIONS | _NOT_DESCRIPTIONS | {"the", "a", "an", "up", "down", "off", "out", "back", "away"}


@dataclass(frozen=True)
class Said:
    """The action text of shot ``shot`` of a scene."""

    shot: int
    text: str


@dataclass(frozen=True)
class Seen:
    """A character known to be somewhere in a scene: a dialogue cue, a listed character.

    ``shot`` None attaches it to the next shot; ``joins`` False keeps it out of the shot (a
    voice over is heard, not seen) while it still counts as the last character mentioned.
    """

    character: str
    shot: int | None
    joins: bool = True


LOOK_BACK = 50
"""How many earlier mentions a pronoun may reach back to."""


def _resolve(text: str, pronoun: Mention, history: list[str], sentence: set[str], genders: dict[str, str | None]) -> list[str]:
    """Who a pronoun refers to: the nearest earlier mention whose gender agrees (the two
    nearest for a sentence that opens with "They"); an object pronoun (``him``) is not the
    subject named in its sentence."""
    kind = PRONOUNS[pronoun.pronoun or ""]
    head = text[max(0, pronoun.start - 3) : pronoun.start].rstrip()
    if kind == "p" and (pronoun.pronoun != "they" or head and not head.endswith((".", "!", "?"))):
        return []  # only a sentence's "They …" means people surely ("as they come in" may be boats)
    reflexive = pronoun.pronoun in OBJECT and not (pronoun.pronoun == "her" and possessive_her(text, pronoun))
    recent = list(reversed(history[-LOOK_BACK:]))
    subject = pronoun.pronoun in SUBJECT
    if kind != "p":
        # "TEO laughs and helps her pull": "her" is the nearest woman, not Teo, whose sex the
        # script never says; someone of unknown sex only when no one of the pronoun's is near.
        for allowed in ((kind,), (None,)):
            for cid in recent:
                if genders.get(cid) in allowed and not (cid in sentence and (reflexive or allowed == (None,) and not subject)):
                    return [cid]
        return []
    found: list[str] = []
    for cid in recent:
        if cid in found or reflexive and cid in sentence:
            continue
        found.append(cid)
        if len(found) == 2:
            break
    return found


def scene_cast(events: list[Said | Seen], index: NameIndex, genders: dict[str, str | None], shots: int) -> list[list[str]]:
    """Who is in each shot of a scene: characters named in its text, those `Seen` in it, and
    those its pronouns refer to (`_resolve`), in order of first appearance."""
    cast: list[dict[str, None]] = [{} for _ in range(shots)]
    history: list[str] = []
    pending: list[str] = []
    for event in events:
        if isinstance(event, Seen):
            history.append(event.character)
            if event.joins and event.shot is None:
                pending.append(event.character)
            elif event.joins and event.shot is not None:
                cast[event.shot][event.character] = None
            continue
        present = cast[event.shot]
        for cid in pending:
            present[cid] = None
        pending = []
        ends = [m.end() for m in _SENTENCE_END.finditer(event.text)]
        sentence_no, sentence = 0, set[str]()
        for mention in index.mentions(event.text, pronouns=True):
            while sentence_no < len(ends) and ends[sentence_no] <= mention.start:
                sentence_no, sentence = sentence_no + 1, set()
            if mention.is_name:
                who = [mention.character]
                sentence.add(mention.character)
            else:
                who = _resolve(event.text, mention, history, sentence, genders)
            for cid in who:
                present[cid] = None
                history.append(cid)
    if pending and shots:
        for cid in pending:
            cast[-1][cid] = None
    return [list(c) for c in cast]
