"""Frame arrays: checks, conversion, sharpness and resizing. uint8 (F, H, W, 3) throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def check_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Return ``frames`` if it is a non-empty uint8 (F, H, W, 3) array, else raise ValueError."""
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (F, H, W, 3), got {frames.shape}")
    if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"{name} is empty: shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {frames.dtype}")
    return frames


def to_uint8(video: np.ndarray) -> np.ndarray:
    """Float video in [0, 1] (F, H, W, 3) → uint8, rounding to nearest."""
    return (np.clip(video, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def laplacian_variance(frame: np.ndarray) -> float:
    """Sharpness of one uint8 (H, W, 3) frame: variance of the 4-neighbour Laplacian of luma."""
    luma = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = (
        -4 * luma[1:-1, 1:-1]
        + luma[:-2, 1:-1]
        + luma[2:, 1:-1]
        + luma[1:-1, :-2]
        + luma[1:-1, 2:]
    )
    return float(lap.var())


def handoff_frame(frames: np.ndarray, mode: str = "sharpest", window: int = 8) -> tuple[int, np.ndarray]:
    """The frame of a take that conditions the next shot, and its index.

    Args:
        frames: uint8 (F, H, W, 3).
        mode: ``last`` for the literal last frame; ``sharpest`` for the sharpest of the last
            ``window`` frames (ties go to the later frame, closest to the join).
        window: How many trailing frames ``sharpest`` considers.
    """
    check_frames(frames)
    if mode == "last":
        return len(frames) - 1, frames[-1]
    if mode != "sharpest":
        raise ValueError(f"keyframe mode {mode!r} is not allowed; use 'sharpest' or 'last'")
    start = max(0, len(frames) - window)
    scores = [laplacian_variance(f) for f in frames[start:]]
    best = max(range(len(scores)), key=lambda i: (scores[i], i))
    return start + best, frames[start + best]


def fit_image(image: Image.Image | np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop an image to exactly (height, width), as uint8 (H, W, 3)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = image.convert("RGB")
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)), dtype=np.uint8).copy()


def load_image(path: Path, width: int, height: int) -> np.ndarray:
    """Read an image file and fit it to (height, width); ValueError when unreadable."""
    try:
        with Image.open(path) as image:
            return fit_image(image, width, height)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {str(path)!r}: {exc}") from None


def neutral_frame(width: int, height: int) -> np.ndarray:
    """A mid-grey frame: the start of a shot with no reference, keyframe model or T2V mode."""
    return np.full((height, width, 3), 128, dtype=np.uint8)
