"""Colour-drift control: match a take's LAB statistics to an anchor before encoding.

Chained shots drift in colour (the most reported failure of last-frame chaining). With
``color_match: scene`` a take is matched to its scene's anchor frame (the first frame of the
scene's first shot); with ``previous`` to the frame that conditioned it. One transform is
computed for the whole clip, so the correction itself does not flicker.
"""

from __future__ import annotations

import numpy as np

from consistency.metrics import lab_stats, lab_to_rgb, rgb_to_lab


def match_color(frames: np.ndarray, anchor: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Frames (F, H, W, 3) uint8 whose LAB mean/std match ``anchor`` (H, W, 3) uint8.

    Args:
        strength: 0 leaves the clip as it is, 1 matches fully.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength={strength} must be in [0, 1]")
    mean_s, std_s = lab_stats(frames)
    mean_a, std_a = lab_stats(anchor)
    scale = np.where(std_s > 1e-6, std_a / np.maximum(std_s, 1e-6), 1.0)
    lab = rgb_to_lab(frames)
    matched = (lab - mean_s) * scale + mean_a
    blended = lab + strength * (matched - lab)
    return lab_to_rgb(blended)
