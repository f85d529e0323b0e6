"""LTX-Video image-to-video; text-only shots go through `LTXPipeline` with the same weights."""

from __future__ import annotations

from typing import Any

from generation.backends.base import Backend
from generation.types import RenderRequest
from shots.families import FAMILIES


def _ltx_kwargs(request: RenderRequest, fps: int) -> dict[str, Any]:
    # LTX's positional encoding is in seconds: it must know the frame rate.
    return {"frame_rate": fps}


LTX = Backend(family="ltx", spec=FAMILIES["ltx"], t2v_class="LTXPipeline", call_kwargs=_ltx_kwargs)
