"""Pixels of stills: a shot's start or end keyframe and the views of a character sheet.

Drawn by the storyboard's text-to-image pipeline (any diffusers text-to-image folder,
`generation.keyframes.t2i_keyframe`), or — for the embedded model (``t2i`` ``world``) — by
the demo world: a shot's caption as its first or last frame, a character's shape as a
portrait. The world is deterministic; a seed moves its drawing by a few pixels, so a re-roll
is another picture.
"""

from __future__ import annotations

import numpy as np

from generation.frames import fit_image
from generation.keyframes import t2i_keyframe
from shots.errors import GenerationError
from shots.families import WORLD_T2I


def _jitter(image: np.ndarray, seed: int) -> np.ndarray:
    """The world's drawing moved by up to 1/32 of its side, as ``seed`` says."""
    rng = np.random.default_rng(seed)
    reach = max(1, image.shape[0] // 32)
    dy, dx = (int(v) for v in rng.integers(-reach, reach + 1, size=2))
    return np.roll(image, (dy, dx), axis=(0, 1))


def draw_keyframe(t2i: str, prompt: str, action: str, width: int, height: int, seed: int, device: str = "cpu",
                  end: bool = False) -> np.ndarray:
    """A shot's start (or ``end``) keyframe at (height, width).

    Args:
        prompt: The composed prompt (what a text-to-image model reads).
        action: The shot's own text (what the demo world draws).

    Raises:
        GenerationError: The world cannot draw ``action`` (not a caption of its grammar).
        ModelLoadError: ``t2i`` is not a loadable text-to-image pipeline folder.
    """
    if t2i != WORLD_T2I:
        return t2i_keyframe(t2i, prompt, width, height, seed, device)
    from generation.world import endframe, keyframe

    try:
        image = (endframe if end else keyframe)(action, max(width, height))
    except ValueError as exc:
        raise GenerationError(f"the demo world cannot draw this shot: {exc}") from None
    return fit_image(_jitter(image, seed), width, height)


def draw_sheet_view(t2i: str, prompt: str, description: str, view: int, size: int, seed: int,
                    device: str = "cpu") -> np.ndarray:
    """View number ``view`` of a character sheet, square of side ``size``.

    Raises:
        GenerationError: The world cannot draw ``description`` (not a shape of its vocabulary).
        ModelLoadError: ``t2i`` is not a loadable text-to-image pipeline folder.
    """
    if t2i != WORLD_T2I:
        return t2i_keyframe(t2i, prompt, size, size, seed, device)
    from generation.world import sheet_view

    try:
        image = sheet_view(description, view, size)
    except ValueError as exc:
        raise GenerationError(f"the demo world cannot draw this character: {exc}") from None
    return _jitter(image, seed) if view else image  # the portrait identity anchors on stays centred
