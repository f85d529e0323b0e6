"""Prompt composition: one deterministic function from storyboard + shot to model text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shots.models import Lora, Shot, Storyboard

_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class ComposedPrompt:
    """The text a model receives for one shot.

    Attributes:
        prompt: style, present characters' descriptions, the shot prompt, the camera.
        negative_prompt: The shot's negative prompt, else the storyboard's.
        tokens: Estimated token count of ``prompt``.
        budget: The model's text budget in tokens.
        action: The shot's own prompt text, before style, characters and camera join it.
    """

    prompt: str
    negative_prompt: str
    tokens: int
    budget: int
    action: str = ""

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
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def shot_loras(board: Storyboard, shot: Shot) -> list[Lora]:
    """The LoRAs a shot renders with: the storyboard's, each present character's, the shot's
    own; a file named twice takes the last scale and trigger given."""
    merged: dict[str, Lora] = {}
    for lora in (*board.settings.loras, *(lora for cid in shot.characters for lora in board.characters[cid].loras), *shot.loras):
        merged.pop(lora.path, None)
        merged[lora.path] = lora
    return list(merged.values())


def compose_prompt(board: Storyboard, shot: Shot, budget: int) -> ComposedPrompt:
    """Compose the prompt for ``shot``; identical inputs give identical text.

    LoRA trigger words come first (where LoRA trainers put them), then the style, each present
    character's description, the shot's prompt and the camera.
    """
    parts: list[str] = []
    triggers = [lora.trigger for lora in shot_loras(board, shot) if lora.trigger]
    if triggers:
        parts.append(_sentence(", ".join(dict.fromkeys(triggers))))
    if board.style:
        parts.append(_sentence(board.style))
    for cid in shot.characters:
        parts.append(_sentence(board.characters[cid].description))
    parts.append(_sentence(shot.prompt))
    if shot.camera:
        parts.append(_sentence(f"Camera: {shot.camera}"))
    prompt = " ".join(parts)
    negative = shot.negative_prompt if shot.negative_prompt is not None else board.settings.negative_prompt
    return ComposedPrompt(prompt, " ".join(negative.split()), estimate_tokens(prompt), budget, " ".join(shot.prompt.split()))
