"""What the sentence that introduces a character says about them.

A screenplay introduces a character in capitals, with a few words about them:

- an appositive: ``JUNE HARLOW, a lanky mechanic in oil-stained overalls, slides …``,
  ``WILL BLOOM, AGE 3, listens …``, ``WILL, now 17 with braces, is fuming``
- a relative clause: ``PIKE, who has fished this bay for forty years, …``
- an age: ``YOUNG EDWARD (10)``, ``ZACKY PRICE is 10``
- a phrase before the name: ``his gorgeous bride JOSEPHINE``, ``Beamen's daughter JENNY (8)``,
  ``Red-headed ZACKY PRICE``, ``A woman in her forties named ANA``, ``A mechanic, JUNE, …``
- the name as the phrase: ``An EXTREMELY HANDSOME MAN drinks a beer.``

`introduce` reads those into an `Intro`: a noun phrase (`shots.grammar.noun_phrase`: attributes
are attached to a noun, never left after "a"), the spans of the sentence it replaces, the
person's sex when the sentence tells it, and whether it marks a change of look (an age, "now",
"younger"). A passing state (``ON SANDRA, overwhelmed``) or an action (``DON PRICE, smoking on
the corner``) describes no look and is no introduction. Everything is string scanning, linear
in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shots.cast import DETERMINERS, PREPOSITIONS, PRONOUNS, Run, sentence_bounds
from shots.grammar import (
    ADJECTIVES,
    MOODS,
    PERSON_NOUNS,
    POSSESSIVES,
    Age,
    article,
    gender,
    head_noun,
    is_adjective,
    is_person_noun,
    noun_phrase,
    possessive,
    read_age,
    words_of,
)

_NUMBERS = frozenset("two three four five six seven eight nine ten several many few".split())
_VERBS = frozenset("is are was were has had have does did can will would could gets got".split())
_WORN = frozenset(
    "overalls jeans glasses sunglasses goggles boots pants trousers shorts sneakers gloves clothes shoes braids "
    "curls freckles tattoos earrings sandals slippers socks heels dreadlocks whiskers sideburns dress".split()
)
_NOT_DESCRIPTIONS = frozenset(
    "and or but then however too again still meanwhile though as while when if so yes no".split()
)
MAX_WORDS = 30
"""Longest description read from a screenplay, in words."""
_CLAUSE_BREAKS = (",", ";", ":", " --", " —", "—", "(")
KINSHIP = frozenset(
    "father mother dad mom mum son daughter brother sister wife husband uncle aunt nephew niece cousin grandfather "
    "grandmother grandson granddaughter parent twin friend partner boyfriend girlfriend".split()
)
"""Nouns that say how someone is related, not how they look: ``his father EDWARD`` tells his
sex, and the look is the rest of the introduction."""
LOOK_WORDS = frozenset("now young younger old older adult teenage elderly grown aged".split())
_PAREN = re.compile(r"\s*\(([^()\n]{1,24})\)")
_IS_AGE = re.compile(r"\s+(?:is|was)\s+(?:now\s+|about\s+|almost\s+|maybe\s+)?([0-9]{1,2}|[a-z]+(?:-[a-z]+)?)(?=[\s,.;!?]|$)")
_TOKENS = re.compile(r"\S+")


def _clean(words: list[str]) -> str:
    """Words as a description: capitals lowered (``RED`` → ``red``), no trailing punctuation."""
    out = [w.lower() if len(w) > 1 and w.isupper() else w for w in words[:MAX_WORDS]]
    if out and out[0].lower() in DETERMINERS:
        out[0] = out[0].lower()
    return " ".join(out).strip(" .,;:!?-—")


def _until_verb(words: list[str]) -> list[str]:
    """The words of a description up to the verb of its sentence (present tense, as screenplays
    are written): ``a keeper in a red scarf climbs the stairs`` → ``a keeper in a red scarf``."""
    for i, raw in enumerate(words):
        word = raw.lower().strip(".,!?;:")
        if i == 0:
            continue
        if word in _VERBS:
            return words[:i]
        plural_like = word.endswith("s") and not word.endswith(("ss", "us", "'s", "’s")) and len(word) > 3
        if plural_like and word not in _WORN and words[i - 1].lower() not in DETERMINERS | PREPOSITIONS | _NUMBERS:
            following = words[i + 1].lower().strip(".,!?;:") if i + 1 < len(words) else ""
            if not (following.endswith("s") and following not in _VERBS and following not in PREPOSITIONS):
                return words[:i]
    return words


def _clause_after(text: str) -> tuple[str, bool]:
    """Text up to the next clause break, and whether a break closed it."""
    cut = min((i for i in (text.find(b) for b in _CLAUSE_BREAKS) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _phrase_start(clause: str) -> str | None:
    """``across the street a woman in a red coat`` → ``a woman in a red coat``: from the first
    article of a clause."""
    words = clause.split()
    for i, word in enumerate(words):
        if word.lower() in {"a", "an", "the"}:
            return " ".join(words[i:])
    return None


def describe(text: str, run: Run, other_names: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """The description a sentence gives of the name at ``run``, and how it gave it
    (``appositive``, ``relative clause``, ``named``, ``phrase``); None when it gives none.

    Args:
        text: The paragraph the name is in.
        run: The name's place in ``text``.
        other_names: Upper-case words of other characters' names: an appositive naming one of
            them is a list of people (``BRICK, STEEL and DAN``), not a description.
    """
    s0, s1 = sentence_bounds(text, run.start, run.end)
    before, after = text[s0 : run.start], text[run.end : s1]
    if before.rstrip().endswith(",") and after.startswith((",", " ")):
        clause = before.rstrip()[:-1]
        clause = clause[max(clause.rfind(b) for b in (",", ";", ":")) + 1 :]
        phrase = _phrase_start(clause)
        if phrase and phrase.split()[0].lower() in {"a", "an"} and clause.split()[0].lower() in {"a", "an"}:
            return _clean(phrase.split()), "appositive"  # A mechanic, JUNE, wipes …
    if after.startswith(","):
        piece, closed = _clause_after(after[1:].strip())
        words = piece.split()
        if words and words[0].lower() in {"who", "whose"}:
            return _clean(["someone", *words]), "relative clause"
        if not closed:
            words = _until_verb(words)
        first = words[0].lower() if words else ""
        named_other = any(w.strip(".,'’")[:1].isupper() and w.strip(".,'’").upper() in other_names for w in words)
        if words and first not in _NOT_DESCRIPTIONS and not named_other:
            return _clean(words), "appositive"
    lowered = before.lower()
    for link in (" named ", " called "):
        if lowered.endswith(link):
            clause = before[: -len(link)]
            clause = clause[max(clause.rfind(b) for b in (",", ";", ":")) + 1 :]
            phrase = _phrase_start(clause)
            if phrase:
                return _clean(phrase.split()), "named"
    article = lowered.rstrip().rsplit(" ", 1)[-1] if lowered.strip() else ""
    if article in {"a", "an"} and lowered.endswith(" "):
        return _clean([article, *run.words]), "phrase"
    return None


def introduces_someone(found: tuple[str, str]) -> bool:
    """Whether a description read beside a name that nobody speaks is surely a person's: a
    relative clause, a "named" phrase, or an appositive that opens with an article
    (``THE HARBOURMASTER, a stout man, …``; ``Mom's PORSCHE, Steel at the wheel`` is not)."""
    description, how = found
    first = description.split()[0].lower() if description.split() else ""
    return how in {"relative clause", "named"} or how == "appositive" and first in {"a", "an", "the"}


@dataclass(frozen=True)
class Intro:
    """What an introduction says: ``description`` is a noun phrase; ``cuts`` are the spans of
    the paragraph it stands for besides the name (``, AGE 3,``, ``his father ``), which the
    paragraph's shot drops so the description is not said twice."""

    description: str
    how: str
    cuts: tuple[tuple[int, int], ...] = ()
    sex: str | None = None
    age: Age | None = None
    look: bool = False  # the introduction marks a change of look: an age, "now", "younger"
    said: str = ""  # the attributes as the sentence gave them

    @property
    def now(self) -> bool:
        """The sentence says the look is new: ``KARL, now 55``."""
        return "now" in self.said.lower().split()


def _words_end(text: str, count: int) -> int:
    """The offset just after the ``count``-th word of ``text``."""
    end = 0
    for i, match in enumerate(_TOKENS.finditer(text)):
        if i == count:
            break
        end = match.end()
    return end


def _appositive(text: str, at: int, stop: int, other_names: frozenset[str]) -> tuple[str, str, int] | None:
    """``, a lanky mechanic …,`` at ``text[at]``: its words, how it was read and where the span
    to drop ends (after its closing comma)."""
    body = text[at + 1 : stop]
    lead = len(body) - len(body.lstrip())
    piece, closed = _clause_after(body.lstrip())
    words = piece.split()
    if not words:
        return None
    if words[0].lower() in {"who", "whose"} or words[0].lower().startswith("who'"):
        kind = "relative clause"
    else:
        kind = "appositive"
        if not closed:
            words = _until_verb(words)
        first = words[0].lower() if words else ""
        named_other = any(w.strip(".,'’")[:1].isupper() and w.strip(".,'’").upper() in other_names for w in words)
        if not words or first in _NOT_DESCRIPTIONS or named_other:
            return None
    end = at + 1 + lead + _words_end(piece, len(words))
    if text.startswith(",", end):
        end += 1
    return " ".join(words[:MAX_WORDS]), kind, end


def _before(text: str, s0: int, start: int) -> tuple[list[str], int]:
    """The words just before a name that belong to it — ``his gorgeous bride``, ``Beamen's
    daughter``, ``the circus' owner-and-ringmaster``, ``Red-headed``, ``The adult`` — and where
    they start; none when a verb or preposition stands right before the name."""
    taken: list[re.Match[str]] = []
    for match in reversed(list(_TOKENS.finditer(text, s0, start))):
        raw = match.group()
        word = raw.lower().strip('"')
        if raw.endswith((",", ";", ":", ".", ")")) or len(taken) == 6 or word in ("named", "called"):
            break
        if not (_opens_phrase(word) or is_adjective(word) or is_person_noun(word) or word.isdigit()):
            break
        taken.insert(0, match)
    words = [m.group().lower().strip('"') for m in taken]
    # A phrase opens with its last determiner ("the boy his father": "his father"); bare
    # adjectives belong to the name only at a sentence's start.
    opens = next((i for i in range(len(words) - 1, -1, -1) if _opens_phrase(words[i])), None)
    if opens is None:
        at_start = bool(taken) and not text[s0 : taken[0].start()].strip()
        if not (at_start and all(is_adjective(w) for w in words)):
            return [], start
        opens = 0
    taken, words = taken[opens:], words[opens:]
    if not taken or all(_opens_phrase(w) for w in words):
        return [], start
    return words, taken[0].start()


def _opens_phrase(word: str) -> bool:
    """A determiner or possessive that opens a phrase before a name (``his``, ``Beamen's``)."""
    return word in DETERMINERS or word in POSSESSIVES or possessive(word)


def _pronoun_after(text: str, at: int, stop: int) -> str | None:
    """The sex of the first he/she/his/her after a name, in its sentence or opening the next."""
    limit = min(len(text), stop + 120)
    for match in _TOKENS.finditer(text, at, limit):
        word = match.group().strip(".,;:!?\"'’").lower()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        if match.group()[:2].isupper() and match.start() < stop:
            return None  # another name first: the pronoun may be theirs
        if word in PRONOUNS and PRONOUNS[word] in ("f", "m"):
            return PRONOUNS[word]
        if match.start() >= stop and word not in PRONOUNS:
            return None
    return None


def introduce(text: str, run: Run, other_names: frozenset[str] = frozenset(), sex: str | None = None) -> Intro | None:
    """The introduction of the name at ``run`` in the paragraph ``text``, or None when the
    sentence gives no look (see the module docstring).

    Args:
        sex: The person's sex when known otherwise (``YOUNG EDWARD`` is Edward): used where the
            sentence does not tell it.
    """
    known_sex = sex
    s0, s1 = sentence_bounds(text, run.start, run.end)
    cuts: list[tuple[int, int]] = []
    attributes: list[str] = []
    how: list[str] = []
    end = run.end
    paren = _PAREN.match(text, end, s1)
    if paren and read_age(paren.group(1).lower().split())[0] is not None:
        attributes.append(paren.group(1))
        cuts.append((end, paren.end()))
        end = paren.end()
        how.append("age")
    lead = text[s0 : run.start].rstrip()
    # "Joe's wife, KATE, looks in", "with his son, MATTHEW.": the name is the appositive
    named_apart = lead.endswith(",") and (text.startswith(",", end) or end >= s1 or text[end : end + 1] in ".!?")
    if not named_apart and text.startswith(",", end) and (found := _appositive(text, end, s1, other_names)):
        words, kind, stop = found
        attributes.append(("someone " if kind == "relative clause" and not attributes else "") + words)
        cuts.append((end, stop))
        how.append(kind)
    elif not named_apart and (is_age := _IS_AGE.match(text, end, s1)) and read_age([is_age.group(1).lower(), "years"])[0] is not None:
        attributes.append(is_age.group(1) + " years old")
        how.append("age")
    before, begin = _before(text, s0, s0 + len(lead) - 1 if named_apart else run.start)
    head, modifiers, sex = None, (), None  # type: ignore[assignment]
    years, before = read_age(before)
    if years is not None:
        attributes.insert(0, f"{years} years old" if years.years is not None else str(years))
        how.append("age")
    if before:
        noun = before[-1] if is_person_noun(before[-1]) else None
        adjectives = tuple(w for w in before if is_adjective(w) and w not in MOODS)
        if noun or adjectives:  # "his mother SANDRA" tells at least that she is a woman
            sex = gender(noun or "")
            head = None if noun is None or noun in KINSHIP and sex else noun  # "his father": a man; "her friend": a friend
            modifiers = adjectives
            cuts.insert(0, (begin, run.start))
            if named_apart and text.startswith(",", end):
                cuts.append((end, end + 1))
            how.insert(0, "before the name")
    if before and before[0] in ("a", "an") and head is None and not attributes and not set(before) & LOOK_WORDS \
            and not any(w in PERSON_NOUNS for w in before):
        # "a weathered LASER PRINTER": the name is the noun of the phrase, as in "An EXTREMELY HANDSOME MAN"
        phrase = " ".join([*before[1:], *(w.lower() for w in run.words)])
        return Intro(f"{article(phrase)} {phrase}", "phrase", (), gender(phrase) or known_sex)
    named_noun = run.words[-1].lower()
    if head is None and how and (named_noun in PERSON_NOUNS or named_noun.endswith(("man", "woman"))):
        head, sex = named_noun, sex or gender(named_noun)  # "The old FERRYMAN, bearded and silent,"
    if not how:
        old = describe(text, run, other_names)
        if old is None:
            return None
        description, kind = old
        return Intro(_clean_case(description), kind, (), gender(description) or _pronoun_after(text, run.end, s1) or known_sex)
    said = " , ".join(attributes)
    age = read_age(said.lower().replace(",", " , ").split())[0]
    lowered = set(words_of(said)) | set(before)
    looks_like = (head is not None or modifiers or age is not None or any(w in ADJECTIVES for w in lowered) or bool(before and sex)
                  or head_noun(said) is not None or bool(lowered & {"with", "wearing", "in"}))
    if not looks_like:
        return None  # a state or an action: "overwhelmed", "smoking on the corner"
    sex = sex or gender(said) or gender(" ".join(run.words)) or _pronoun_after(text, max([end, *(b for _, b in cuts)]), s1) or known_sex
    description = noun_phrase(said, sex, head, modifiers) if said or head or modifiers else noun_phrase("", sex)
    if head is None and not modifiers and not said and sex is None:
        return None
    return Intro(_clean_case(description), " + ".join(dict.fromkeys(how)), tuple(cuts), sex, age,
                 age is not None or bool(lowered & LOOK_WORDS), said)


def _clean_case(description: str) -> str:
    """Capitals lowered (``RED`` → ``red``, ``AGE`` → ``age``), a name's capitals kept."""
    return " ".join(w.lower() if len(w) > 1 and w.isupper() else w for w in description.split())
