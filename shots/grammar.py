"""Descriptions as noun phrases: what a prompt may put in a character's name's place.

A screenplay's introduction gives a noun phrase (``a retired police detective``, ``his gorgeous
bride``) or only attributes of the person (``AGE 3``, ``40's and handsome``, ``now 17 with
braces``, ``smoking on the corner``). Only a noun phrase can stand where a name stood. The rule
(`is_noun_phrase`): after its determiners, the words up to the first preposition, clause word,
conjunction, comma or participle end in a *head noun* — a word that is neither a number, an age,
an adjective nor a participle. Attributes are attached to a noun instead (`noun_phrase`): an
age becomes ``a 3-year-old boy`` or ``a man in his 40s``, adjectives go before the noun, a
prepositional or participle phrase after it (``a 17-year-old with braces``), and the noun is
the character's gender and age (``man``, ``woman``, ``girl``, ``child``, ``person``).

Everything here is word-list lookups over a short text, linear in its length.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DETERMINERS = frozenset(
    "a an the his her their its my your our one two three four five some this that these those another every".split()
)
POSSESSIVES = frozenset("his her their its my your our".split())
CLAUSE_WORDS = frozenset("who whose whom which that where when while as".split())
PREPOSITIONS = frozenset(
    "in on at with of from to into under over by for near behind beside without about across along around "
    "through like than wearing".split()
)
ADVERBS = frozenset("now also still about maybe probably perhaps already nearly almost just roughly only very even suddenly".split())
PERSON_NOUNS = frozenset(
    """man men woman women boy boys girl girls child children kid kids baby babies toddler infant teenager teen youth
    person people guy guys lady ladies gentleman gentlemen adult adults someone somebody figure stranger crowd couple
    father mother dad mom mum daddy mommy parent parents son daughter brother sister sibling siblings twin twins
    husband wife bride groom fiance fiancee widow widower uncle aunt nephew niece cousin grandfather grandmother
    grandpa grandma granddaughter grandson family friend friends girlfriend boyfriend partner neighbor neighbour
    detective officer cop policeman policewoman sheriff deputy agent soldier sergeant captain colonel general
    lieutenant private marine sailor pilot doctor nurse surgeon dentist patient teacher student professor principal
    pupil coach player athlete mechanic driver fisherman farmer sharecropper worker clerk cashier waiter waitress
    bartender barista chef cook baker butcher maid butler servant nanny priest nun monk pastor preacher minister
    reverend rabbi judge lawyer attorney banker teller salesman saleswoman businessman businesswoman boss manager
    owner ringmaster clown acrobat performer singer dancer actor actress artist painter writer poet musician
    journalist reporter photographer mayor senator president king queen prince princess duke duchess lord knight
    witch wizard giant dwarf ghost monster creature beast thief robber criminal gangster killer prisoner guard
    hunter trapper cowboy rancher miner sheriff messenger mailman postman courier tourist traveler traveller
    passenger customer client visitor guest host hostess stranger villager townsman townsfolk townfolk citizen
    resident local native relative executive representative individual professional official rival veteran
    survivor victim hero heroine villain leader chief elder mystic psychic fortune-teller secretary assistant
    receptionist janitor attendant conductor engineer scientist technician programmer hacker student intern
    teammate classmate roommate bully darling sweetheart lover companion mate ally enemy orphan twin mermaid
    cat dog horse bird fish catfish wolf lion tiger bear elephant monkey""".split()
)
ADJECTIVES = frozenset(
    """tall short thin fat old young older younger elderly aged adult teenage handsome pretty beautiful gorgeous ugly
    plain homely cute lovely stunning attractive big small little large huge tiny giant massive petite lanky stout
    skinny plump chubby slim slender wiry muscular burly brawny hulking frail strong weak bald blond blonde
    brunette dark pale fair tanned freckled bearded scruffy grizzled weathered wrinkled haggard rugged sturdy
    heavy heavyset stocky gaunt lean fit tough rough sharp sleek elegant stylish shabby dirty clean neat tidy
    rich poor wealthy famous mysterious strange odd weird wild feral stern mousy slick
    black white red yellow green blue brown grey gray purple pink orange golden silver
    handsome red-headed redheaded middle-aged well-dressed shirtless barefoot""".split()
)
"""Adjectives of how someone looks: an introduction that gives only these still describes a look."""
MOODS = frozenset(
    """nervous shy quiet loud angry sad happy cheerful grumpy drunk sober tired exhausted sleepy sick ill sweet kind
    gentle mean cruel smart clever bright wise brave bold proud humble calm fierce lonely sullen serious friendly
    shifty overwhelmed stunned shocked surprised confused bewildered furious annoyed worried scared frightened
    terrified relieved embarrassed amused delighted excited bored upset distraught fuming silent""".split()
)
"""Adjectives of a passing state: ``ON SANDRA, overwhelmed`` says how she feels, not how she looks."""
NOT_ADJECTIVE = frozenset("family ally bully deputy nanny granny daddy mommy baby lady guy army party city kitty puppy buddy".split())
_AGE_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip
_AGE_WORDS.update({word: 10 * (i + 3) for i, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split())})
_DECADE_WORDS = {"teens": 10, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60,
                 "seventies": 70, "eighties": 80, "nineties": 90}  # fmt: skip
_ADJECTIVE_ENDINGS = ("ed", "ous", "ful", "ish", "less", "able", "ible", "ic", "ical", "ive", "al", "est", "ly")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*")
_FEMALE = frozenset(
    "woman women girl she her herself mother mom mum lady queen wife daughter sister actress heroine grandmother "
    "grandma aunt niece female businesswoman waitress widow bride nun princess duchess hostess policewoman "
    "saleswoman girlfriend fiancee mermaid witch".split()
)
_MALE = frozenset(
    "man men boy he him his himself father dad gentleman king husband son brother actor hero grandfather grandpa "
    "uncle nephew male businessman waiter widower groom monk prince duke guy policeman salesman boyfriend fiance "
    "mailman postman fisherman".split()
)


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower case, punctuation at their ends left off."""
    return [w.strip(".'’-").lower() for w in _WORD.findall(text) if w.strip(".'’-")]


def gender(text: str) -> str | None:
    """``f``, ``m`` or None, from the words of a description or a sentence about someone."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    female, male = bool(words & _FEMALE), bool(words & _MALE)
    return "f" if female and not male else "m" if male and not female else None


@dataclass(frozen=True)
class Age:
    """An age read from a description: exact years, or a decade (``40`` for "40's") with an
    ``early``/``mid``/``late`` qualifier."""

    years: int | None = None
    decade: int | None = None
    qualifier: str = ""

    @property
    def child(self) -> bool:
        return self.years is not None and self.years < 13 or self.decade == 0

    @property
    def teen(self) -> bool:
        return self.years is not None and 13 <= self.years < 20 or self.decade == 10

    def __str__(self) -> str:
        if self.years is not None:
            return str(self.years)
        return f"{self.qualifier + ('-' if self.qualifier == 'mid' else ' ') if self.qualifier else ''}{self.decade}s"


def _number(word: str) -> int | None:
    word = word.strip("()")
    if word.isdigit() and 0 < int(word) < 120:
        return int(word)
    return _AGE_WORDS.get(word)


def _decade(word: str) -> int | None:
    """``40's``, ``40s``, ``forties``, ``mid-40s`` → 40."""
    word = word.strip("()").replace("’", "'")
    for prefix in ("early-", "mid-", "late-"):
        word = word.removeprefix(prefix)
    if word in _DECADE_WORDS:
        return _DECADE_WORDS[word]
    core = word.removesuffix("'s").removesuffix("s").removesuffix("'")
    if core.isdigit() and len(core) == 2 and core.endswith("0") and core != word:
        return int(core)
    return None


_BEFORE_AGE = frozenset("now about is , also still maybe almost nearly roughly around just".split())


def read_age(words: list[str]) -> tuple[Age | None, list[str]]:
    """The age among ``words`` (lower case) and the words left without it.

    Read: ``age 3``, ``aged 3``, ``3``, ``(10)``, ``3 years old``, ``3-year-old``, ``40's``,
    ``forties``, ``late 20s``, ``mid-40s``, ``in his 40s``.
    """
    for i, word in enumerate(words):
        qualifier = ""
        for q in ("early", "mid", "late"):
            if word.startswith(q + "-"):
                qualifier = q
        if (decade := _decade(word)) is not None:
            start = i
            if i and words[i - 1] in ("early", "mid", "late"):
                qualifier, start = words[i - 1], i - 1
            if start >= 2 and words[start - 2] == "in" and words[start - 1] in POSSESSIVES:
                start -= 2
            return Age(decade=decade, qualifier=qualifier), words[:start] + words[i + 1 :]
        if word.endswith("-year-old") and (n := _number(word.split("-")[0])) is not None:
            return Age(years=n), words[:i] + words[i + 1 :]
        if word in ("year-old", "year-olds") and i and (n := _number(words[i - 1])) is not None:
            return Age(years=n), words[: i - 1] + words[i + 1 :]  # "7 year-old"
        n = _number(word)
        if n is None:
            continue
        start, end = i, i + 1
        if i and words[i - 1] in ("age", "aged"):
            start = i - 1
        alone = word.isdigit() or word in _AGE_WORDS and (i + 1 == len(words) or words[i + 1] in (",", "and"))
        if start == i and not (word.startswith("(") or alone and (i == 0 or words[i - 1] in _BEFORE_AGE)
                               or i + 1 < len(words) and words[i + 1] in ("years", "year")):
            continue  # "two boys", "the ages of 18 to 30": a number alone is no age
        if words[end : end + 2] in (["years", "old"], ["year", "old"]):
            end += 2
        return Age(years=n), words[:start] + words[end:]
    return None, words


def is_adjective(word: str) -> bool:
    """A word that describes rather than names: ``handsome``, ``red-headed``, ``tallest``."""
    word = word.lower()
    if word in ADJECTIVES or word in MOODS:
        return True
    if word in ADVERBS or word in _AGE_WORDS:
        return False
    if word in PERSON_NOUNS or word in NOT_ADJECTIVE:
        return False
    if word.endswith(("-headed", "-haired", "-eyed", "-faced", "-skinned", "-looking", "-dressed", "-aged", "-old")):
        return True
    return len(word) > 4 and word.endswith(_ADJECTIVE_ENDINGS) or len(word) > 3 and word.endswith("y") and word[-2] not in "aeiou"


def _is_participle(word: str) -> bool:
    return len(word) > 4 and word.endswith("ing") and word not in PERSON_NOUNS and word not in ("king", "darling", "sibling")


def is_noun(word: str) -> bool:
    """Whether a word can head a noun phrase: not a number, an age, an adjective or a participle."""
    word = word.lower().strip(".,;:!?")
    if re.fullmatch(r"\d{1,3}-year-old", word):
        return True  # "a 17-year-old with braces"
    if not word or any(c.isdigit() for c in word) or _decade(word) is not None or word in _AGE_WORDS:
        return False
    if is_person_noun(word):
        return True
    return not (is_adjective(word) or _is_participle(word) or word in ADVERBS or word in PREPOSITIONS or word in CLAUSE_WORDS)


def is_person_noun(word: str) -> bool:
    """A noun for a person (``father``, ``owner-and-ringmaster``): the word or its last part."""
    return word in PERSON_NOUNS or word.split("-")[-1] in PERSON_NOUNS


def possessive(word: str) -> bool:
    """``beamen's``, ``the circus'``; not ``who's``, ``he's``, ``it's`` (a verb)."""
    return word.endswith(("'s", "’s", "s'")) and word.split("'")[0].split("’")[0] not in _CONTRACTED


_CONTRACTED = frozenset("who he she it that there here what where let".split())


@functools.lru_cache(maxsize=4096)
def head_noun(text: str) -> str | None:
    """The head noun of ``text`` when it is a noun phrase (`is_noun_phrase`), else None (cached:
    every shot of a character asks it of the same description)."""
    words = text.replace(",", " , ").replace(";", " ; ").replace(" --", " , ").split()
    if not words:
        return None
    lowered = [w.lower().strip(".!?:\"'") for w in words]
    i = 0
    while i < len(lowered) and (lowered[i] in DETERMINERS or possessive(lowered[i])):
        i += 1
    if i < len(lowered) and lowered[i] in ("someone", "somebody"):
        return lowered[i]
    if i == 0 and all(w[:1].isupper() and not w.isupper() or w.lower() in ("the", "of", "de") for w in words if w[:1].isalpha()) \
            and words[0][:1].isupper():
        return lowered[0]  # a name: "Kit", "Little Brave", "Karl The Giant"
    chunk: list[str] = []
    for j in range(i, len(lowered)):
        word = lowered[j]
        if word in (",", ";") or word in PREPOSITIONS or word in CLAUSE_WORDS or word.startswith("who") or word in ("and", "or", "but"):
            break
        if chunk and _is_participle(word):
            break
        chunk.append(word)
    if not chunk:
        return None
    return chunk[-1] if is_noun(chunk[-1]) else None


def is_noun_phrase(text: str) -> bool:
    """Whether ``text`` can stand where a name stood: it has a head noun (``a retired police
    detective``, ``his gorgeous bride``, ``someone who …``, a name); ``age 3``, ``40's and
    handsome``, ``smoking on the corner``, ``overwhelmed`` have none."""
    return head_noun(text) is not None


def person_noun(sex: str | None, age: Age | None) -> str:
    """``man``, ``woman``, ``boy``, ``girl``, ``child``, ``teenager`` or ``person``."""
    if age is not None and age.child:
        return {"m": "boy", "f": "girl"}.get(sex or "", "child")
    if age is not None and age.teen:
        return {"m": "teenage boy", "f": "teenage girl"}.get(sex or "", "teenager")
    return {"m": "man", "f": "woman"}.get(sex or "", "person")


def article(phrase: str) -> str:
    """``a`` or ``an`` before ``phrase``."""
    first = phrase.split()[0].lower() if phrase.split() else ""
    digits = first[: len(first) - len(first.lstrip("0123456789"))]
    if digits:  # "an 8-year-old", "an 18-year-old", "a 28-year-old"
        return "an" if digits.startswith("8") or digits in ("11", "18") else "a"
    vowel = first[:1] in "aeiou" and not first.startswith(("uni", "use", "one", "eu"))
    return "an" if vowel else "a"


def noun_phrase(description: str, sex: str | None = None, head: str | None = None, modifiers: tuple[str, ...] = ()) -> str:
    """``description`` as a noun phrase: itself when it is one (`is_noun_phrase`), else its
    attributes attached to a noun — ``AGE 3`` → ``a 3-year-old boy`` (``sex`` m), ``40's and
    handsome`` → ``a handsome man in his 40s``, ``now 17 with braces`` → ``a 17-year-old with
    braces``, ``smoking on the corner`` → ``a person smoking on the corner``.

    Args:
        sex: ``f``/``m`` when known (the noun is then ``woman``/``man``, ``girl``/``boy``).
        head: A noun the introduction gave before the name (``his gorgeous bride JOSEPHINE``):
            it is the phrase's noun, with ``modifiers`` before it, instead of a person noun.
    """
    text = " ".join(description.split()).strip(" .,;:")
    while text.split() and text.split()[0].lower() in ADVERBS:
        text = text.split(None, 1)[1] if len(text.split()) > 1 else ""
    if not text and head is None and not modifiers:
        noun = person_noun(sex, None)
        return f"{article(noun)} {noun}"
    if head is None and is_noun_phrase(text):
        return text
    sex = sex or gender(text)
    age, rest = read_age(text.lower().replace(",", " , ").split())
    rest = [w.strip(".;:") for w in rest if w.strip(".;:")]
    while rest and (rest[0] in ADVERBS or rest[0] in (",", "and")):
        rest = rest[1:]
    if rest and rest[0] in DETERMINERS and is_noun_phrase(" ".join(rest)):
        inner = " ".join(rest)  # "now a young man": the phrase after "now"
        return inner if age is None else f"{inner}, {age} years old" if age.years is not None else f"{inner} in their {age}"
    adjectives: list[str] = []
    while rest and (is_adjective(rest[0]) and rest[1:2] not in (["as"], ["than"]) or rest[0] in (",", "and") and adjectives):
        if rest[0] not in (",", "and") and rest[0] not in adjectives:
            adjectives.append(rest[0])
        rest = rest[1:]
    while rest and rest[0] in (",", "and"):
        rest = rest[1:]
    if age is not None and (age.child or age.teen or age.years is not None):
        adjectives = [a for a in adjectives if a not in ("young", "old", "little", "older", "younger", "adult", "teenage", "teen")]
    noun = head or (person_noun(sex, Age(years=8)) if age is not None and age.years is not None and age.years < 20 and sex
                    else person_noun(sex, age))  # "a 17-year-old boy", not "a 17-year-old teenage boy"
    adjectives = [*modifiers, *(a for a in adjectives if a not in modifiers)]
    if age is not None and (age.child or age.teen or age.years is not None):  # "a 15-year-old girl", not "a teenage 15-year-old girl"
        adjectives = [a for a in adjectives if a not in ("young", "old", "little", "older", "younger", "adult", "teenage", "teen")]
    if age is not None and age.years is not None:
        core = f"{age.years}-year-old" + ("" if noun == "teenager" and head is None else f" {noun}")
    else:
        core = noun
    lead = " ".join(adjectives + [core]) if adjectives else core
    phrase = f"{article(lead)} {lead}"
    if age is not None and age.years is None:
        phrase += " in " + {"m": "his", "f": "her"}.get(sex or "", "their") + f" {age}"
    tail = " ".join(rest).replace(" ,", ",").strip(" ,")
    if tail:
        first = tail.split()[0]
        joined = (first in PREPOSITIONS or first in CLAUSE_WORDS or first.startswith("who") or _is_participle(first)) and not (
            age is not None and age.years is None and _is_participle(first))
        phrase += (" " if joined else ", ") + tail
    return phrase


_BARE = re.compile(
    r"\b(?:a|an) (?:age\b|aged\b|\(?\d+(?![\d-])(?=\s*(?:[,.;:)]|$|and\b|or\b|years?\b))|(?:early |mid-|late )?\d0'?s\b|now\b|also\b|still\b"
    r"|[a-z]+ing (?:on|in|at|with|by|from)\b|[a-z]+ed[,.]|(?:[a-z]+ )?and (?:handsome|pretty|beautiful|tall|short|thin))",
    re.IGNORECASE,
)


def bare_attributes(prompt: str) -> list[str]:
    """Places where "a"/"an" stands before attributes with no noun — ``an age 3``, ``a 40's and
    handsome``, ``a smoking on the corner``, ``an overwhelmed,`` — the shapes a description that
    is not a noun phrase leaves in a prompt (the benchmark's and the tests' grammar check)."""
    return [m.group() for m in _BARE.finditer(prompt)]
