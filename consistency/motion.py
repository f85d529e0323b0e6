"""Motion continuity at a ``continue`` join: does the motion before the cut carry on after it?

For the last `WINDOW` frames of the previous take and the first `WINDOW` of this one:

1. **Global flow** of each pair of consecutive frames, on luma downscaled to at most `SIDE`
   pixels: the least-squares translation (u, v) of the brightness-constancy equation
   Ix·u + Iy·v + It = 0 over every pixel (Lucas–Kanade with one window, the frame). On plain
   grounds only the edges of moving things carry gradient, so it is their motion.
2. **Before / after**: the mean flow of each side, v_b and v_a (pixels per frame at `SIDE`).
3. **Score** = direction × speed, where speed = min(|v_b|, |v_a|) / max(|v_b|, |v_a|) and
   direction = (1 + cos(v_b, v_a)) / 2; a side slower than `STILL` counts as still: both
   still → 1 (stillness carries on); one still → 0 (the motion stops or starts dead).

1.0: the motion goes on as it went; 0.5: it turns a right angle (or halves its speed); 0: it
stops dead or turns back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 4
SIDE = 64
STILL = 0.05  # pixels per frame at SIDE


def _luma(frames: np.ndarray) -> np.ndarray:
    """Float luma (F, h, w), averaged down so the long side is at most `SIDE`."""
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    factor = max(1, -(-max(luma.shape[1:]) // SIDE))
    f, h, w = luma.shape
    h, w = h - h % factor, w - w % factor
    return luma[:, :h, :w].reshape(f, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def global_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The least-squares translation (u, v) from luma frame ``a`` to ``b``."""
    mean = (a + b) / 2
    ix = np.gradient(mean, axis=1)
    iy = np.gradient(mean, axis=0)
    it = b - a
    matrix = np.array([[np.sum(ix * ix), np.sum(ix * iy)], [np.sum(ix * iy), np.sum(iy * iy)]])
    rhs = -np.array([np.sum(ix * it), np.sum(iy * it)])
    if abs(np.linalg.det(matrix)) < 1e-6:
        return np.zeros(2)
    return np.linalg.solve(matrix, rhs)


def mean_flow(frames: np.ndarray) -> np.ndarray:
    """Mean global flow over consecutive pairs of uint8 frames (F, H, W, 3)."""
    luma = _luma(frames)
    if len(luma) < 2:
        return np.zeros(2)
    return np.mean([global_flow(luma[i], luma[i + 1]) for i in range(len(luma) - 1)], axis=0)


@dataclass(frozen=True)
class MotionResult:
    """The score and what it was made of."""

    score: float
    before: tuple[float, float]
    after: tuple[float, float]
    speed: float
    direction: float


def motion_continuity(previous: np.ndarray, take: np.ndarray) -> MotionResult:
    """How the motion of the end of ``previous`` carries on into the start of ``take``."""
    before = mean_flow(previous[-WINDOW:])
    after = mean_flow(take[:WINDOW])
    s_b, s_a = float(np.linalg.norm(before)), float(np.linalg.norm(after))
    still_b, still_a = s_b < STILL, s_a < STILL
    if still_b and still_a:
        speed = direction = 1.0
    elif still_b or still_a:
        speed, direction = 0.0, 0.5
    else:
        speed = min(s_b, s_a) / max(s_b, s_a)
        direction = (1 + float(before @ after) / (s_b * s_a)) / 2
    score = direction * speed
    return MotionResult(score, (float(before[0]), float(before[1])), (float(after[0]), float(after[1])), speed, direction)
