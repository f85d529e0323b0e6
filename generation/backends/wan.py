"""Wan 2.1 I2V and FLF2V (first–last frame), Wan 2.2 A14B I2V (two experts), Wan 2.2 TI2V-5B.

Wan 2.1 I2V and Wan 2.2 A14B have no text-only mode in their weights: a ``cut`` shot without a
reference image or keyframe model starts from a neutral frame. TI2V-5B renders text-only
through `WanPipeline` with the same components.
"""

from __future__ import annotations

from dataclasses import replace

from generation.backends.base import Backend
from shots.families import FAMILIES

WAN21 = Backend(
    family="wan",
    spec=FAMILIES["wan"],
    fp32_components=("vae", "image_encoder"),
)
WAN22 = replace(WAN21, family="wan22", spec=FAMILIES["wan22"], transformers=("transformer", "transformer_2"))
WAN22_TI2V = replace(WAN21, family="wan22_ti2v", spec=FAMILIES["wan22_ti2v"], t2v_class="WanPipeline")
WAN21_FLF2V = replace(WAN21, family="wan_flf2v", spec=FAMILIES["wan_flf2v"])
