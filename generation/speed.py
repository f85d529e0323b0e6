"""Speed knobs: feature caches, regional compile, VAE tiling, offload, attention backend.

Several cache configs are silent no-ops on Wan (FACTS.md), so nothing here is assumed to
work: `AttentionCounter` counts the attention projections that actually ran, and the render
path reports how much a cache skipped.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from shots.errors import ConfigError

log = logging.getLogger(__name__)

BLOCK_PATTERN = r"(transformer_)?blocks\.\d+"


def cache_config(kind: str, pipe: Any, threshold: float, steps: int, mag_ratios: list[float] | None) -> Any:
    """The diffusers cache config for ``kind`` (None for ``off``)."""
    from diffusers import (
        FirstBlockCacheConfig,
        MagCacheConfig,
        PyramidAttentionBroadcastConfig,
        TaylorSeerCacheConfig,
    )

    if kind == "off":
        return None
    if kind == "first_block":
        return FirstBlockCacheConfig(threshold=threshold)
    if kind == "mag":
        if mag_ratios is None:  # first render calibrates: it skips nothing and logs ratios
            return MagCacheConfig(calibrate=True, num_inference_steps=steps)
        return MagCacheConfig(threshold=threshold, num_inference_steps=steps, mag_ratios=mag_ratios)
    if kind == "taylorseer":
        # The default identifiers match nothing in Wan: name the blocks explicitly.
        return TaylorSeerCacheConfig(
            cache_interval=2,
            disable_cache_before_step=1,
            cache_identifiers=[BLOCK_PATTERN],
            taylor_factors_dtype=torch.float32,
        )
    if kind == "pyramid":
        return PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(100, 950),
            current_timestep_callback=lambda: pipe.current_timestep,
        )
    raise ConfigError(f"cache {kind!r} is not allowed; use off, first_block, mag, taylorseer or pyramid")


def denoisers(pipe: Any, names: tuple[str, ...]) -> list[torch.nn.Module]:
    """The pipeline's transformer(s) that are present."""
    return [m for n in names if (m := getattr(pipe, n, None)) is not None]


def set_cache(modules: list[torch.nn.Module], config: Any) -> None:
    """Replace any cache on ``modules`` by ``config`` (enable_cache twice would raise)."""
    for module in modules:
        if getattr(module, "is_cache_enabled", False):
            module.disable_cache()
        if config is not None:
            module.enable_cache(config)


@contextlib.contextmanager
def capture_mag_ratios() -> Iterator[list[list[float]]]:
    """Collect the ratio lists MagCache logs at the end of a calibration run."""
    found: list[list[float]] = []
    logger = logging.getLogger("diffusers.hooks.mag_cache")

    class _Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = re.search(r"Calibration Results: \[(.*)\]", record.getMessage())
            if match:
                found.append([float(x) for x in match.group(1).split(",") if x.strip()])

    handler, level, propagate = _Grab(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with contextlib.redirect_stdout(None):  # diffusers also prints the ratios
        try:
            yield found
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


@dataclass
class AttentionCounter:
    """Counts attention query projections run vs. those a cache-free pass would run."""

    ran: int = 0
    full: int = 0
    _handles: list[Any] = field(default_factory=list)

    def attach(self, modules: list[torch.nn.Module]) -> None:
        """Hook every attention ``to_q`` below the given denoisers."""
        for module in modules:
            projections = [m.to_q for m in module.modules() if isinstance(getattr(m, "to_q", None), torch.nn.Module)]

            def on_forward(*_: Any, n: int = len(projections)) -> None:
                self.full += n

            self._handles.append(module.register_forward_pre_hook(on_forward))
            for proj in projections:
                self._handles.append(proj.register_forward_pre_hook(self._count))

    def _count(self, *_: Any) -> None:
        self.ran += 1

    def detach(self) -> None:
        """Remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


@contextlib.contextmanager
def attention_scope(name: str | None) -> Iterator[None]:
    """Use a diffusers attention backend for the duration of the block only."""
    if not name:
        yield
        return
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        attention_backend,
    )

    allowed = [b.value for b in AttentionBackendName]
    if name not in allowed:
        raise ConfigError(f"attention backend {name!r} is not allowed; use one of {', '.join(allowed)}")
    try:
        context = attention_backend(name)
        context.__enter__()
    except (RuntimeError, ValueError, ImportError) as exc:
        raise ConfigError(f"attention backend {name!r} cannot run here: {exc}") from None
    try:
        yield
    finally:
        context.__exit__(None, None, None)


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; a CUDA device without CUDA is refused."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available here; use cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", device):
        raise ConfigError(f"device {device!r} is not allowed; use auto, cpu, cuda or cuda:N")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` → bfloat16 on CUDA, float32 elsewhere."""
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"dtype {dtype!r} is not allowed; use auto, float32, bfloat16 or float16")
    return dtype
