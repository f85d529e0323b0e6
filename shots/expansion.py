"""Prompt expansion by a local language model: what it is asked, and which answers are kept.

With ``settings.prompt_model`` a storyboard's composed prompts (`shots.prompts`) are rewritten
by an instruction-tuned causal language model into the long, concrete captions video models
such as Wan are trained on. The model is asked with `INSTRUCTION` and `messages`; its answer is
kept only when `check_expansion` finds nothing wrong with it, else the composed prompt is used
and `plan` says why. This module is text only: the model runs in `generation.expand`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shots.prompts import estimate_tokens

EXPANSION_VERSION = 1
"""Changes whenever `INSTRUCTION` or `messages` change, so cached answers to the old ones are
not reused."""

INSTRUCTION = (
    "You write captions for a text-to-video model. Rewrite the shot description you are given as one "
    "detailed caption of 60 to 120 words in the present tense: the subject, the setting, the motion, the "
    "camera and the light. Keep every phrase you are told to keep exactly as written, word for word. Do not "
    "add people, names, dialogue or text on screen. Answer with the caption only."
)

_NOT_CAPTION = ("<|", "|>", "assistant:", "user:", "system:", "```", "[UNK]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def messages(composed: str, keep: Iterable[str]) -> list[dict[str, str]]:
    """The chat a prompt model is given for one shot."""
    keep = [k for k in keep if k]
    ask = f"Shot: {composed}"
    if keep:
        ask += "\nKeep word for word: " + "; ".join(f'"{k}"' for k in keep) + "."
    return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": ask}]


def _proper_names(text: str) -> set[str]:
    """Capitalised words that do not start a sentence: the names a text uses."""
    names = set()
    for match in _WORD.finditer(text):
        head = text[: match.start()].rstrip()
        if head and not head.endswith((".", "!", "?", ":", '"')) and match.group()[0].isupper():
            names.add(match.group())
    return names


def check_expansion(composed: str, expanded: str, keep: Iterable[str], absent: Iterable[str], budget: int) -> str | None:
    """Why an expansion cannot be used, or None when it can.

    Args:
        composed: The composed prompt the model was given.
        expanded: The model's answer.
        keep: Descriptions of the characters in the shot: each must appear word for word.
        absent: Names and descriptions of the storyboard's other characters: none may appear.
        budget: Tokens the video model's text encoder reads.
    """
    text = " ".join(expanded.split())
    if not text:
        return "the model answered nothing"
    if any(junk in text.lower() for junk in (j.lower() for j in _NOT_CAPTION)):
        return "the answer is not a caption (it holds chat markup or unknown tokens)"
    if len(text.split()) < len(composed.split()):
        return f"the answer has {len(text.split())} words, fewer than the composed prompt's {len(composed.split())}"
    if (tokens := estimate_tokens(text)) > budget:
        return f"the answer is about {tokens} tokens; the video model reads {budget}"
    lowered = text.lower()
    for phrase in keep:
        if phrase and phrase.lower() not in lowered:
            return f"the answer drops the description {phrase!r}"
    for other in absent:
        if other and re.search(rf"\b{re.escape(other.lower())}\b", lowered):
            return f"the answer brings in {other!r}, who is not in this shot"
    known = {w.lower() for w in _WORD.findall(composed)}
    new = sorted(n for n in _proper_names(text) if n.lower() not in known)
    if new:
        return f"the answer adds names the prompt does not have: {', '.join(new[:5])}"
    return None
