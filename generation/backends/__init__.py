"""One module per model family; `BACKENDS` maps a family key to its `Backend`."""

from __future__ import annotations

from generation.backends.base import Backend
from generation.backends.cogvideox import COGVIDEOX
from generation.backends.ltx import LTX
from generation.backends.wan import WAN21, WAN22, WAN22_TI2V

BACKENDS: dict[str, Backend] = {b.family: b for b in (WAN21, WAN22, WAN22_TI2V, LTX, COGVIDEOX)}

__all__ = ["BACKENDS", "Backend"]
