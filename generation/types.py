"""Plain data passed into and out of the generation package (no Prefect, no SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CacheKind = Literal["off", "first_block", "mag", "taylorseer", "pyramid"]


@dataclass(frozen=True)
class LoadOptions:
    """Everything that changes how a pipeline is loaded; part of the model cache key.

    Attributes:
        device: ``cpu``, ``cuda``, ``cuda:1`` … (``auto`` resolves before loading).
        dtype: ``float32``, ``bfloat16`` or ``float16`` (``auto``: bf16 on CUDA, fp32 on CPU).
        cache: Feature-cache hook on the transformer(s).
        cache_threshold: Threshold of ``first_block`` / ``mag`` (larger skips more).
        compile: Regional compile of the repeated transformer blocks.
        vae_tiling: Decode the VAE in tiles (less memory for large frames).
        cpu_offload: Model CPU offload (CUDA only).
    """

    device: str = "cpu"
    dtype: str = "float32"
    cache: CacheKind = "off"
    cache_threshold: float = 0.05
    compile: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False


@dataclass(frozen=True)
class RenderRequest:
    """One take to render.

    Attributes:
        image: Conditioning frame, uint8 (H, W, 3), already at (height, width).
        seed: Fully determines the frames on a given device.
        attention_backend: diffusers attention backend scoped to this call, e.g. ``native``.
    """

    prompt: str
    negative_prompt: str
    image: np.ndarray
    width: int
    height: int
    frames: int
    steps: int
    guidance: float
    seed: int
    attention_backend: str | None = None


@dataclass
class Timings:
    """Seconds spent per phase of one take."""

    load: float = 0.0
    text_encode: float = 0.0
    denoise: float = 0.0
    decode: float = 0.0
    encode: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Rounded copy for storage and display."""
        return {k: round(v, 4) for k, v in self.__dict__.items()}

    @property
    def total(self) -> float:
        """Sum of all phases."""
        return self.load + self.text_encode + self.denoise + self.decode + self.encode


@dataclass
class RenderResult:
    """Frames of one take, uint8 (F, H, W, 3), with what was measured while making them.

    Attributes:
        attention_calls: Attention projections actually run / that would run without a cache.
    """

    frames: np.ndarray
    seed: int
    device: str
    timings: Timings = field(default_factory=Timings)
    attention_calls: tuple[int, int] = (0, 0)

    @property
    def cache_skipped(self) -> float:
        """Fraction of attention work a cache hook skipped (0 when none ran)."""
        ran, full = self.attention_calls
        return 0.0 if full == 0 else 1.0 - ran / full
