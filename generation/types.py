"""Plain data passed into and out of the generation package (no Prefect, no SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from generation.loras import LoraFile

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
        memory: How the weights sit on the device (`generation.memory`); ``auto`` is resolved
            to a mode when the pipeline loads.
    """

    device: str = "cpu"
    dtype: str = "float32"
    cache: CacheKind = "off"
    cache_threshold: float = 0.05
    compile: bool = False
    vae_tiling: bool = False
    memory: str = "auto"


@dataclass(frozen=True)
class RenderRequest:
    """One take to render.

    Attributes:
        image: First frame, uint8 (H, W, 3), already at (height, width): the hand-off frame of
            an image-to-video continuation, or a cut's start image.
        frames: Frames the pipeline renders (the context frames it repeats included).
        seed: Fully determines the frames on a given device.
        attention_backend: diffusers attention backend scoped to this call, e.g. ``native``.
        context: The previous take's last K frames, uint8 (K, H, W, 3), for families that
            continue from several frames (VACE, LTX): they open the video and are left out of
            the take.
        end_image: A frame the shot must land on, uint8 (H, W, 3).
        references: Character images that condition the shot (VACE), uint8 (h, w, 3) each.
        start_image: False for a shot with no start picture (text only where the family has
            a text mode): ``image`` is then a placeholder.
        loras: LoRAs switched on for this take (none: all off).
        scheduler: (name, flow shift) of the scheduler to use (None: the model's own).
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
    context: np.ndarray | None = None
    end_image: np.ndarray | None = None
    references: tuple[np.ndarray, ...] = ()
    start_image: bool = True
    loras: tuple[LoraFile, ...] = ()
    scheduler: tuple[str, float | None] | None = None

    @property
    def kept_from(self) -> int:
        """Index of the first output frame that belongs to the take (after the context)."""
        return 0 if self.context is None else len(self.context)


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
