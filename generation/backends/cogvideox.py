"""CogVideoX image-to-video. Its I2V weights have no text-only mode (neutral first frame)."""

from __future__ import annotations

from typing import Any

from generation.backends.base import Backend
from generation.types import RenderRequest
from shots.families import FAMILIES


def _cog_kwargs(request: RenderRequest, fps: int) -> dict[str, Any]:
    return {"use_dynamic_cfg": True}


COGVIDEOX = Backend(family="cogvideox", spec=FAMILIES["cogvideox"], call_kwargs=_cog_kwargs)
