"""Where a shot's first frame comes from.

| shot                                   | start frame                                             |
|----------------------------------------|---------------------------------------------------------|
| ``continue``                           | the previous shot's chosen take: sharpest of its last k |
|                                        | frames (variance of Laplacian), or its literal last one |
| ``cut`` with a reference image         | the shot's ``reference``, else its first character's    |
| ``cut``, no reference, ``t2i_model``   | a text-to-image keyframe from that diffusers directory  |
| ``cut``, none of those                 | the family's text-to-video mode (Wan 2.2 TI2V, LTX);    |
|                                        | Wan 2.1 / 2.2 A14B / CogVideoX I2V have none: a neutral |
|                                        | grey frame                                              |
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generation.frames import fit_image, handoff_frame, load_image, neutral_frame
from shots.errors import ModelLoadError

_T2I: dict[tuple[str, str], Any] = {}
_T2I_LOCK = threading.Lock()


@dataclass(frozen=True)
class StartFrame:
    """The conditioning frame of a take and where it came from.

    Attributes:
        image: uint8 (H, W, 3) at the render size.
        source: ``previous:<index>``, ``reference``, ``t2i``, ``t2v`` or ``neutral``.
        text_only: Render with the text-to-video pipeline (``image`` is then unused).
    """

    image: np.ndarray
    source: str
    text_only: bool = False


def from_previous(frames: np.ndarray, width: int, height: int, mode: str, window: int) -> StartFrame:
    """The handoff frame of the previous take, fitted to this shot's size."""
    index, frame = handoff_frame(frames, mode, window)
    if frame.shape[:2] != (height, width):
        frame = fit_image(frame, width, height)
    return StartFrame(frame, f"previous:{index}")


def from_reference(path: Path, width: int, height: int) -> StartFrame:
    """A reference image, scaled and centre-cropped to the render size."""
    return StartFrame(load_image(path, width, height), "reference")


def from_text(
    prompt: str,
    width: int,
    height: int,
    seed: int,
    t2i_model: str | None,
    has_t2v: bool,
    device: str = "cpu",
) -> StartFrame:
    """A start frame for a cut shot with no reference (see the module table)."""
    if t2i_model:
        return StartFrame(t2i_keyframe(t2i_model, prompt, width, height, seed, device), "t2i")
    if has_t2v:
        return StartFrame(neutral_frame(width, height), "t2v", text_only=True)
    return StartFrame(neutral_frame(width, height), "neutral")


def t2i_keyframe(model: str, prompt: str, width: int, height: int, seed: int, device: str = "cpu") -> np.ndarray:
    """Render a keyframe with a local diffusers text-to-image pipeline (loaded once)."""
    import torch
    from diffusers import AutoPipelineForText2Image

    key = (model, device)
    with _T2I_LOCK:
        if key not in _T2I:
            if not (Path(model).expanduser() / "model_index.json").is_file():
                raise ModelLoadError(f"t2i_model {model!r} is not a diffusers pipeline directory")
            try:
                pipe = AutoPipelineForText2Image.from_pretrained(model, use_safetensors=True)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load t2i_model {model!r}: {exc}") from None
            pipe.set_progress_bar_config(disable=True)
            _T2I[key] = pipe.to(device)
        pipe = _T2I[key]
    # Exact size: turn off size "binning" where a pipeline has it (PixArt), keep steps modest.
    accepted = inspect.signature(pipe.__call__).parameters
    extra = {k: v for k, v in (("use_resolution_binning", False), ("num_inference_steps", 20)) if k in accepted}
    with torch.inference_mode():
        image = pipe(
            prompt=prompt,
            width=width,
            height=height,
            generator=torch.Generator("cpu").manual_seed(seed),
            **extra,
        ).images[0]
    return fit_image(image, width, height)
