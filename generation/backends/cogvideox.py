"""CogVideoX image-to-video. Its I2V weights have no text-only mode (neutral first frame)."""

from __future__ import annotations

from typing import Any

from generation.backends.base import Backend, image_inputs
from generation.types import RenderRequest
from shots.families import FAMILIES


def _cog_inputs(request: RenderRequest, fps: int) -> dict[str, Any]:
    return {**image_inputs(request, fps), "use_dynamic_cfg": True}


COGVIDEOX = Backend(family="cogvideox", spec=FAMILIES["cogvideox"], inputs=_cog_inputs)
