"""One module per model family; `BACKENDS` maps a family key to its `Backend`."""

from __future__ import annotations

from generation.backends.base import Backend
from generation.backends.cogvideox import COGVIDEOX
from generation.backends.ltx import LTX
from generation.backends.wan import WAN21, WAN21_FLF2V, WAN22, WAN22_TI2V
from generation.backends.wan_vace import WAN_VACE

BACKENDS: dict[str, Backend] = {b.family: b for b in (WAN21, WAN21_FLF2V, WAN22, WAN22_TI2V, WAN_VACE, LTX, COGVIDEOX)}

__all__ = ["BACKENDS", "Backend"]
