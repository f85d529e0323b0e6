"""Batches of world clips with captions, and the prompt forms the models are trained on.

storyreel composes a shot's prompt as ``<style>. <character descriptions>. <shot prompt>.``
(`shots.prompts`), so the models also see captions with the actors' descriptions in front, not
only the bare grammar sentence.
"""

from __future__ import annotations

import numpy as np

from generation.world import MOTIONS, ClipSpec, render_clip, sample_spec


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


def sample_pair_clips(
    rng: np.random.Generator, count: int, frames: int = 17, size: int = 64, split: str = "train"
) -> tuple[np.ndarray, list[ClipSpec]]:
    """``count`` two-shape clips: a third ``meet``, the rest the other motions evenly (so a third
    the four directions) — what the demo's second scene asks of the model, and what
    `sample_clips` draws least (``meet`` is one clip in 27 there)."""
    others = [m for m in MOTIONS if m != "meet"]
    motions = ["meet" if rng.random() < 1 / 3 else str(rng.choice(others)) for _ in range(count)]
    specs = [sample_spec(rng, actors=2, motion=m, split=split) for m in motions]
    return np.stack([render_clip(s, frames, size) for s in specs]), specs
