"""Wan VACE (Wan 2.1 VACE 1.3B/14B, Wan 2.2 VACE-Fun): one pipeline for every way a shot starts.

`WanVACEPipeline` takes a ``video`` and a ``mask`` (black: keep this frame; white: generate
it) and ``reference_images`` that condition identity. storyreel gives it:

- a ``continue`` shot: the previous take's last K frames, kept, then frames to generate; the
  take is what follows the K (so the cut repeats no frame);
- a cut with a start image: that image as a kept first frame;
- a cut without one: no video (text only);
- an ``end_frame``: a kept last frame;
- every present character's reference image (or anchor) as ``reference_images``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from generation.backends.base import Backend, pil
from generation.types import RenderRequest
from shots.families import FAMILIES

KEEP, MAKE = 0, 255


def _vace_inputs(request: RenderRequest, fps: int) -> dict[str, Any]:
    from PIL import Image

    size = (request.width, request.height)
    inputs: dict[str, Any] = {}
    if request.references:
        inputs["reference_images"] = [pil(r) for r in request.references]
    kept: dict[int, np.ndarray] = {}
    if request.context is not None:
        kept.update(enumerate(request.context))
    elif request.start_image:
        kept[0] = request.image
    if request.end_image is not None:
        kept[request.frames - 1] = request.end_image
    if not kept:
        return inputs  # text only
    blank = Image.new("RGB", size, (128, 128, 128))
    inputs["video"] = [pil(kept[i]) if i in kept else blank for i in range(request.frames)]
    inputs["mask"] = [Image.new("L", size, KEEP if i in kept else MAKE) for i in range(request.frames)]
    return inputs


def _vace_pipeline(loaded: Any, request: RenderRequest) -> Any:
    return loaded.pipe  # one pipeline: text only is a call without video


WAN_VACE = Backend(
    family="wan_vace",
    spec=FAMILIES["wan_vace"],
    fp32_components=("vae",),
    inputs=_vace_inputs,
    transformers=("transformer", "transformer_2"),
    pipeline_for=_vace_pipeline,
)
