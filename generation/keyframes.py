"""Where a shot's first frame comes from.

| shot                                   | start frame                                             |
|----------------------------------------|---------------------------------------------------------|
| ``continue``                           | the previous shot's chosen take: sharpest of its last k |
|                                        | frames (variance of Laplacian), or its literal last one |
| ``cut`` with a reference image         | the shot's ``reference``, else its first character's    |
| ``cut``, no reference, ``t2i_model``   | a text-to-image keyframe from that diffusers directory  |
|                                        | (``model: tiny``: the demo world draws the shot's prompt)|
| ``cut``, none of those                 | the family's text-to-video mode (Wan 2.2 TI2V, LTX);    |
|                                        | Wan 2.1 / 2.2 A14B / CogVideoX I2V have none: a neutral |
|                                        | grey frame (said by plan and validate, never judged as  |
|                                        | the scene's colour anchor)                              |
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
from shots.families import WORLD_T2I

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
    action: str = "",
) -> StartFrame:
    """A start frame for a cut shot with no reference (see the module table).

    Args:
        prompt: The composed prompt (what a keyframe model reads).
        action: The shot's own prompt (what the demo world draws).
    """
    if t2i_model == WORLD_T2I:
        if world_problem(action) is None:
            return StartFrame(world_keyframe(action, width, height), "t2i")
    elif t2i_model:
        return StartFrame(t2i_keyframe(t2i_model, prompt, width, height, seed, device), "t2i")
    if has_t2v:
        return StartFrame(neutral_frame(width, height), "t2v", text_only=True)
    return StartFrame(neutral_frame(width, height), "neutral")


def world_problem(action: str) -> str | None:
    """Why the demo world cannot draw a shot's prompt (None when it can)."""
    from generation.world import parse_caption

    try:
        parse_caption(action)
    except ValueError as exc:
        return str(exc)
    return None


def world_keyframe(action: str, width: int, height: int) -> np.ndarray:
    """The demo world's first frame for a caption, fitted to (height, width)."""
    from generation.world import keyframe

    return fit_image(keyframe(action, max(width, height)), width, height)


def real_start(keyframe: str, t2i_model: str | None, action: str, has_t2v: bool) -> tuple[str, str | None]:
    """Where a planned shot will really start (as `from_text` decides), and why not where the
    plan put it: the embedded model's world keyframe draws only captions of its grammar, and
    any other prompt starts as a shot without a keyframe model would."""
    if keyframe == "t2i" and t2i_model == WORLD_T2I and (why := world_problem(action)):
        return ("t2v" if has_t2v else "neutral"), f"the demo world cannot draw this prompt: {why}"
    return keyframe, None


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
