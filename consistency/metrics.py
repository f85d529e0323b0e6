"""Metric formulas on embeddings (unit-norm rows) and on pixels (uint8 frames).

Definitions (see FACTS.md):
- ``temporal``: VBench subject consistency, s_t = ½[max(0,cos(f_{t-1},f_t)) + max(0,cos(f_0,f_t))],
  score = mean_t s_t; plus the worst adjacent drop: the frame t where cos(f_{t-1}, f_t) is
  lowest and its depth below the clip's median adjacent similarity (a hard cut or a morph).
- ``identity``: per reference, VBench-I2V-style mix of the clipped cosines over frames,
  ½·mean + ¼·max + ¼·min; averaged over references.
- ``boundary``: mean clipped cosine between the conditioning frame and the first frames.
- ``prompt``: CLIPScore, 2.5 · max(cos(image, text), 0), averaged over frames.
- ``flicker``: VBench temporal flickering, (255 − mean_t MAE(I_t, I_{t+1})) / 255.
- ``color_drift``: CIE76 ΔE between LAB means plus the L2 distance of LAB standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _clipped(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0)


@dataclass(frozen=True)
class TemporalResult:
    """Subject consistency and where the clip breaks most."""

    score: float
    worst_drop_frame: int
    worst_drop_depth: float
    worst_adjacent: float


def temporal(frames: np.ndarray) -> TemporalResult:
    """VBench subject consistency of embeddings (F, D), with the worst adjacent drop."""
    if len(frames) < 2:
        return TemporalResult(1.0, 0, 0.0, 1.0)
    adjacent = np.sum(frames[1:] * frames[:-1], axis=1)  # cos(f_{t-1}, f_t), t ≥ 1
    anchored = frames[1:] @ frames[0]  # cos(f_0, f_t)
    score = float(np.mean(0.5 * (_clipped(adjacent) + _clipped(anchored))))
    worst = int(np.argmin(adjacent))
    depth = float(np.median(adjacent) - adjacent[worst])
    return TemporalResult(score, worst + 1, max(0.0, depth), float(adjacent[worst]))


def identity(frames: np.ndarray, references: np.ndarray) -> float:
    """Similarity of frames (F, D) to reference images (R, D); 1.0 for identical content."""
    sims = _clipped(frames @ references.T)  # (F, R)
    mixed = 0.5 * sims.mean(axis=0) + 0.25 * sims.max(axis=0) + 0.25 * sims.min(axis=0)
    return float(mixed.mean())


def boundary(first_frames: np.ndarray, condition: np.ndarray) -> float:
    """Mean clipped cosine between the conditioning frame (D,) and the take's first frames."""
    return float(np.mean(_clipped(first_frames @ condition)))


def clip_score(frames: np.ndarray, text: np.ndarray) -> float:
    """CLIPScore of frames (F, D) against one text embedding (D,)."""
    return float(np.mean(2.5 * _clipped(frames @ text)))


def draft_match(frames: np.ndarray, draft: np.ndarray) -> float:
    """Mean clipped cosine between a final take's frame embeddings (F, D) and its draft's
    (G, D), each final frame against the draft frame at the same point of the shot."""
    index = np.round(np.linspace(0, len(draft) - 1, len(frames))).astype(int)
    return float(np.mean(_clipped(np.sum(frames * draft[index], axis=-1))))


def flicker(frames: np.ndarray) -> float:
    """VBench temporal flickering of uint8 frames; 1.0 for a still clip."""
    if len(frames) < 2:
        return 1.0
    diffs = np.abs(frames[1:].astype(np.int16) - frames[:-1].astype(np.int16))
    mae = diffs.reshape(len(diffs), -1).mean(axis=1)
    return float((255.0 - mae.mean()) / 255.0)


# sRGB (D65) → XYZ → CIELAB
_M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) → float LAB (..., 3)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _M.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float LAB (..., 3) → uint8 RGB (..., 3), clipped to the sRGB gamut."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE
    linear = np.clip(xyz @ np.linalg.inv(_M).T, 0, 1)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return (np.clip(c, 0, 1) * 255 + 0.5).astype(np.uint8)


def lab_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of LAB over every pixel of a frame or clip."""
    lab = rgb_to_lab(rgb).reshape(-1, 3)
    return lab.mean(axis=0), lab.std(axis=0)


def color_distance(a: np.ndarray, b: np.ndarray) -> float:
    """ΔE of LAB statistics between two frames/clips (0 for identical colour distributions)."""
    mean_a, std_a = lab_stats(a)
    mean_b, std_b = lab_stats(b)
    return float(np.linalg.norm(mean_a - mean_b) + np.linalg.norm(std_a - std_b))
