"""Batches of world clips with captions, and the prompt forms the models are trained on.

storyreel composes a shot's prompt as ``<style>. <character descriptions>. <shot prompt>.``
(`shots.prompts`), so the models also see captions with the actors' descriptions in front, not
only the bare grammar sentence.
"""

from __future__ import annotations

import numpy as np

from generation.world import ClipSpec, render_clip, sample_spec


def prompt_for(spec: ClipSpec, rng: np.random.Generator) -> str:
    """The caption as a storyboard would compose it: half the time with descriptions first."""
    sentence = spec.caption() + "."
    if rng.random() < 0.5:
        return " ".join(d + "." for d in spec.descriptions()) + " " + sentence
    return sentence


def sample_clips(
    rng: np.random.Generator, count: int, frames: int = 17, size: int = 64, split: str = "train"
) -> tuple[np.ndarray, list[ClipSpec]]:
    """``count`` clips, uint8 (count, frames, size, size, 3): two thirds one shape, a third two."""
    specs = [sample_spec(rng, actors=1 if rng.random() < 2 / 3 else 2, split=split) for _ in range(count)]
    return np.stack([render_clip(s, frames, size) for s in specs]), specs
