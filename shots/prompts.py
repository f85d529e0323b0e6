"""Prompt composition: one deterministic function from storyboard + shot to model text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shots.cast import OBJECT, PRONOUNS, SUBJECT, Mention, NameIndex, gender, possessive_her, short_phrase, with_article
from shots.grammar import PREPOSITIONS, noun_phrase
from shots.looks import LookInScene, shot_looks
from shots.models import Lora, Shot, Storyboard

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CAPS = re.compile(r"\b[A-Z][A-Z'’-]*[A-Z]\b")


@dataclass(frozen=True)
class ComposedPrompt:
    """The text a model receives for one shot.

    Attributes:
        prompt: style, the shot prompt with its characters' descriptions, the camera.
        negative_prompt: The shot's negative prompt, else the storyboard's.
        tokens: Estimated token count of ``prompt``.
        budget: The model's text budget in tokens.
        action: The shot's own prompt text, before style, characters and camera join it.
        composed: With a prompt model: the composed prompt it was given (``prompt`` is then
            its expansion, or this again when the expansion was not kept).
        expansion_problem: Why the prompt model's expansion was not kept.
    """

    prompt: str
    negative_prompt: str
    tokens: int
    budget: int
    action: str = ""
    composed: str | None = None
    expansion_problem: str | None = None

    @property
    def expanded(self) -> bool:
        """Whether ``prompt`` is a prompt model's expansion."""
        return self.composed is not None and self.expansion_problem is None and self.prompt != self.composed

    @property
    def warning(self) -> str | None:
        """A message when the prompt is likely truncated by the text encoder."""
        if self.tokens <= self.budget:
            return None
        return (
            f"prompt is about {self.tokens} tokens; the model reads {self.budget} "
            "and drops the rest: shorten the style, descriptions or prompt"
        )


def estimate_tokens(text: str) -> int:
    """Estimated sentencepiece tokens: words and punctuation, long words counted twice."""
    return sum(1 + len(t) // 8 for t in _TOKEN.findall(text))


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(":;,- ")
    return text if text.endswith((".", "!", "?")) else text + "."


def shot_loras(board: Storyboard, shot: Shot) -> list[Lora]:
    """The LoRAs a shot renders with: the storyboard's, each present character's, the shot's
    own; a file named twice takes the last scale and trigger given."""
    merged: dict[str, Lora] = {}
    for lora in (*board.settings.loras, *(lora for cid in shot.characters for lora in board.characters[cid].loras), *shot.loras):
        merged.pop(lora.path, None)
        merged[lora.path] = lora
    return list(merged.values())


def prompt_names(board: Storyboard) -> NameIndex:
    """The names prompts are woven around: every character that has ``names``."""
    return NameIndex({cid: c.names for cid, c in board.characters.items() if c.names})


def _capitalise_at(text: str, start: int, new: str) -> str:
    head = text[:start].rstrip()
    return new[:1].upper() + new[1:] if not head or head.endswith((".", "!", "?", ":")) else new


def _quoted(text: str) -> list[tuple[int, int]]:
    """Spans of ``"quoted"`` text (a title card's words): names there are words, not people."""
    marks = [i for i, c in enumerate(text) if c == '"']
    return list(zip(marks[::2], marks[1::2]))


def _soften(whole: str, start: int, end: int, quoted: list[tuple[int, int]]) -> str:
    """``whole[start:end]`` with words in capitals (screenplay emphasis: ``SLAMMED``, ``SCREEN
    DOOR``) in lower case, except inside quotes and at the start of a sentence."""
    def lower(match: re.Match[str]) -> str:
        at = start + match.start()
        if any(a < at < b for a, b in quoted):
            return match.group()
        return _capitalise_at(whole, at, match.group().lower())

    return _CAPS.sub(lower, whole[start:end])


def _absorb(text: str, mention: Mention, description: str, around: tuple[str, str] | None = None) -> tuple[int, int]:
    """The span to replace at a character's first mention: the name, and the description when
    the text already gives it beside the name (``JUNE, a lanky mechanic, …``, ``a woman in her
    forties named ANA``, ``An EXTREMELY HANDSOME MAN``; the introduction's own words
    ``around`` it: ``his father EDWARD BLOOM, 40's and handsome,``), so it is not said twice."""
    if around is not None and any(around):
        before, after = around
        head = text[: mention.start].rstrip() if before else text[: mention.start]
        if head.endswith(before) and text[mention.end :].startswith(after):
            return len(head) - len(before), mention.end + len(after)
    head = text[: mention.start]
    for word in ("Little ", "Young ", "Old ", "Older ", "Younger ", "Adult ", "Baby "):  # "Little Nora": the look says it
        if head.endswith(word) and (len(head) == len(word) or not head[-len(word) - 1].isalnum()):
            return mention.start - len(word), mention.end
    lower = text.lower()
    before, after = lower[: mention.start], lower[mention.end :]
    for core in dict.fromkeys((description.lower(), description.lower().removeprefix("someone "))):
        if after.startswith(", " + core):
            end = mention.end + 2 + len(core)
            return mention.start, end + (1 if text[end : end + 1] == "," else 0)
        for link in (" named ", " called "):
            if before.endswith(core + link):
                return mention.start - len(core + link), mention.end
        if before.endswith(core + ", ") and after.startswith(","):
            return mention.start - len(core) - 2, mention.end + 1
    name = lower[mention.start : mention.end]
    if description.lower().endswith(name) and len(description) > len(name):
        lead = description.lower()[: -len(name)]
        if before.endswith(lead):
            return mention.start - len(lead), mention.end
    return mention.start, mention.end


def _looks(board: Storyboard, shot: Shot) -> dict[str, LookInScene]:
    """The look of each present character; none for a shot not (or no longer) in the
    storyboard, whose characters then show their base looks."""
    try:
        return shot_looks(board, shot)
    except KeyError:
        return {}


def shot_descriptions(board: Storyboard, shot: Shot, looks: dict[str, LookInScene] | None = None) -> dict[str, str]:
    """Each present character's description as a prompt says it: the look the shot's scene
    shows (`shots.looks`; ``looks`` when the caller has them), as a noun phrase
    (`shots.grammar.noun_phrase`: a description that is only attributes, ``40's and
    handsome``, is attached to a noun)."""
    looks = _looks(board, shot) if looks is None else looks
    out = {}
    for cid in shot.characters:
        text = (looks[cid].description if cid in looks else board.characters[cid].description).strip(" .")
        out[cid] = noun_phrase(text, gender(text))
    return out


def _before_modifiers(description: str) -> str:
    """A noun phrase up to its head: ``a 17-year-old boy with braces`` → ``a 17-year-old boy``."""
    words = description.replace(",", " ,").split()
    for i, word in enumerate(words[1:], 1):
        if word in (",", "who", "whose", "that", "which") or word.lower() in PREPOSITIONS:
            return " ".join(words[:i])
    return description


def weave(board: Storyboard, shot: Shot, names: NameIndex, looks: dict[str, LookInScene] | None = None) -> tuple[str, list[str]]:
    """The shot's prompt with each named character's description in place of its first mention
    (its name, else a pronoun that can only mean it) and a short phrase ("the lanky mechanic")
    at later mentions; and the present characters it never mentions.

    A pronoun is left alone when a character named earlier in the prompt may be meant by it.
    """
    text = shot.prompt
    looks = _looks(board, shot) if looks is None else looks
    described_as = shot_descriptions(board, shot, looks)
    arounds = {cid: look.around for cid, look in looks.items() if look.around}  # the introduction's words (Origin.around)

    def description_of(cid: str) -> str:
        return described_as.get(cid) or noun_phrase(board.characters[cid].description.strip(" ."))

    replacements: list[tuple[int, int, str]] = []
    described: list[str] = []
    unnamed = [c for c in shot.characters if board.characters[c].names]
    quoted = _quoted(text)
    mentions = [m for m in names.mentions(text, pronouns=True) if not any(a < m.start < b for a, b in quoted)]
    for mention in (m for m in mentions if m.is_name):
        description = description_of(mention.character)
        if mention.character in described:
            replacements.append((mention.start, mention.end, short_phrase(description)))
            continue
        start, end = _absorb(text, mention, description, arounds.get(mention.character))
        if text[end : end + 2] in ("'s", "’s"):  # "Will's date": "a 17-year-old boy's date", not "… with braces's"
            description = _before_modifiers(description)
        replacements.append((start, end, with_article(description)))
        described.append(mention.character)
    unnamed = [c for c in unnamed if c not in described]
    for mention in (m for m in mentions if not m.is_name):
        pronoun = mention.pronoun or ""
        if not unnamed or pronoun not in SUBJECT | OBJECT - {"them"} or pronoun == "her" and possessive_her(text, mention):
            continue
        kind = PRONOUNS[pronoun]
        earlier = [m.character for m in mentions if m.is_name and m.start < mention.start]
        if pronoun in OBJECT:  # "Steel smacks him" does not mean Steel
            sentence = max(text.rfind(end, 0, mention.start) for end in (". ", "! ", "? "))
            earlier = [m.character for m in mentions if m.is_name and m.start < sentence]
        if any(gender(description_of(c)) in (None, kind) for c in earlier):
            continue  # may mean a character already named here
        fits = [c for c in unnamed if gender(description_of(c)) in (None, kind)]
        if len(fits) == 1:
            replacements.append((mention.start, mention.end, with_article(description_of(fits[0]))))
            unnamed.remove(fits[0])
    # A description that takes in the words around a name ("Joe's wife, KATE,") takes in the
    # names among them too.
    replacements = [r for r in replacements if not any(o[0] <= r[0] and r[1] <= o[1] and o != r for o in replacements)]
    out: list[str] = []
    at = 0
    for start, end, new in sorted(replacements):
        if start < at:
            continue  # inside a description already absorbed
        out.append(_soften(text, at, start, quoted))
        out.append(_capitalise_at(text, start, new))
        at = end
    out.append(_soften(text, at, len(text), quoted))
    return "".join(out), unnamed


def _presence(descriptions: dict[str, str], unnamed: list[str]) -> str:
    """``A retired police detective is in the shot.`` for characters a prompt never mentions."""
    phrases = [with_article(descriptions[c]) for c in unnamed]
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return listed[:1].upper() + listed[1:] + (" is" if len(phrases) == 1 else " are") + " in the shot."


def compose_prompt(board: Storyboard, shot: Shot, budget: int, names: NameIndex | None = None,
                   looks: dict[str, LookInScene] | None = None) -> ComposedPrompt:
    """Compose the prompt for ``shot``; identical inputs give identical text.

    LoRA trigger words come first (where LoRA trainers put them), then the style, then the
    shot's prompt with its characters' descriptions woven in (`weave`; a character without
    ``names`` gets its description as a sentence before the prompt), then the camera.

    Args:
        names: `prompt_names` of the board, when composing many shots of it.
        looks: `shots.looks.shot_looks` of the shot, when the caller has them.
    """
    names = prompt_names(board) if names is None else names
    parts: list[str] = []
    triggers = [lora.trigger for lora in shot_loras(board, shot) if lora.trigger]
    if triggers:
        parts.append(_sentence(", ".join(dict.fromkeys(triggers))))
    if board.style:
        parts.append(_sentence(board.style))
    looks = _looks(board, shot) if looks is None else looks
    descriptions = shot_descriptions(board, shot, looks)
    for cid in shot.characters:
        if not board.characters[cid].names:
            parts.append(_sentence(descriptions[cid]))
    action, unnamed = weave(board, shot, names, looks) if names else (shot.prompt, [])
    if unnamed:
        parts.append(_presence(descriptions, unnamed))
    parts.append(_sentence(action))
    if shot.camera:
        parts.append(_sentence(f"Camera: {shot.camera}"))
    prompt = " ".join(parts)
    negative = shot.negative_prompt if shot.negative_prompt is not None else board.settings.negative_prompt
    return ComposedPrompt(prompt, " ".join(negative.split()), estimate_tokens(prompt), budget, " ".join(shot.prompt.split()))
