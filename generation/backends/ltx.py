"""LTX-Video: image-to-video, text-only through `LTXPipeline`, and conditions at any frame
through `LTXConditionPipeline` (all with the same weights).

A ``continue`` shot from K > 1 frames gives the previous take's last K frames as a video
condition at frame 0, and a shot with an ``end_frame`` an image condition at its last frame
index: both go through `LTXConditionPipeline` (built from the loaded components when the
folder holds another LTX pipeline).
"""

from __future__ import annotations

from typing import Any

from generation.backends.base import Backend, pil
from generation.types import RenderRequest
from shots.families import FAMILIES

CONDITION = "LTXConditionPipeline"


def _needs_conditions(request: RenderRequest) -> bool:
    return request.context is not None or request.end_image is not None


def _ltx_inputs(request: RenderRequest, fps: int) -> dict[str, Any]:
    # LTX's positional encoding is in seconds: it must know the frame rate.
    inputs: dict[str, Any] = {"frame_rate": fps}
    if not _needs_conditions(request):
        if request.start_image:
            inputs["image"] = pil(request.image)
        return inputs
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    conditions = []
    if request.context is not None:
        conditions.append(LTXVideoCondition(video=[pil(f) for f in request.context], frame_index=0))
    elif request.start_image:
        conditions.append(LTXVideoCondition(image=pil(request.image), frame_index=0))
    if request.end_image is not None:
        conditions.append(LTXVideoCondition(image=pil(request.end_image), frame_index=request.frames - 1))
    inputs["conditions"] = conditions
    return inputs


def _ltx_pipeline(loaded: Any, request: RenderRequest) -> Any:
    if type(loaded.pipe).__name__ == CONDITION:
        return loaded.pipe
    if _needs_conditions(request):
        return loaded.derived(CONDITION)
    return None


LTX = Backend(family="ltx", spec=FAMILIES["ltx"], t2v_class="LTXPipeline", inputs=_ltx_inputs, pipeline_for=_ltx_pipeline)
