"""Memory modes: how a pipeline's weights sit on the device.

| mode            | what                                                                     | needs   |
|-----------------|--------------------------------------------------------------------------|---------|
| `full`          | every component on the device                                            | —       |
| `fp8_storage`   | the denoisers' weights stored in fp8 (e4m3), each layer cast up to the compute dtype as it runs (`enable_layerwise_casting`): about half the bytes of bf16 | — |
| `model_offload` | whole components moved to the device when used (`enable_model_cpu_offload`; `cpu_offload` is its old name) | CUDA |
| `group_offload` | layers streamed from CPU memory as they run (`enable_group_offload`, leaf level, CUDA streams): the least device memory | CUDA |
| `auto`          | `choose_memory`: `full` when the weights (at the compute dtype) take at most `FULL_SHARE` of the free device memory, else `fp8_storage` when half of them fit, else `group_offload`; `full` on the CPU | — |

A CUDA out-of-memory error steps down the ladder `full` → `fp8_storage` → `model_offload` →
`group_offload`, each step keeping less of the weights on the device (with VAE tiling from the
first step), and renders again; `group_offload` is the bottom. A device without CUDA skips the
offload modes, so its ladder ends at `fp8_storage`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shots.errors import ConfigError

MODES = ("auto", "full", "model_offload", "group_offload", "fp8_storage")
LADDER = ("full", "fp8_storage", "model_offload", "group_offload")
"""Memory modes from the most device memory to the least."""
CUDA_ONLY = ("model_offload", "group_offload")
FULL_SHARE = 0.8
"""Weights may take this share of free device memory and still run ``full``; the rest is for
activations, the VAE's decode and the text encoder."""

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1}


def weight_bytes(model_dir: Path, components: tuple[str, ...] = ("transformer", "transformer_2")) -> int:
    """Parameters of a pipeline folder's denoisers, counted from their safetensors headers (no
    weights read): the bytes they take at 2 bytes a parameter (bf16)."""
    total = 0
    for component in components:
        for file in sorted((Path(model_dir) / component).glob("*.safetensors")):
            with open(file, "rb") as handle:
                size = int.from_bytes(handle.read(8), "little")
                header = json.loads(handle.read(size))
            for name, entry in header.items():
                if name != "__metadata__":
                    count = 1
                    for dim in entry["shape"]:
                        count *= dim
                    total += 2 * count
    return total


def choose_memory(mode: str, device: str, weights: int, free: int | None) -> str:
    """The mode to load with: ``mode`` itself, or for ``auto`` the documented choice.

    Args:
        weights: Bytes of the denoisers' weights at bf16 (`weight_bytes`).
        free: Free device memory in bytes (None: unknown — the CPU).

    Raises:
        ConfigError: A mode the device cannot run.
    """
    if mode not in MODES:
        raise ConfigError(f"memory {mode!r} is not allowed; use {', '.join(MODES)}")
    cuda = device.startswith("cuda")
    if mode in CUDA_ONLY and not cuda:
        raise ConfigError(f"memory: {mode} needs a CUDA device; it moves weights between GPU and CPU memory")
    if mode != "auto":
        return mode
    if not cuda or free is None:
        return "full"
    if weights <= FULL_SHARE * free:
        return "full"
    if weights / 2 <= FULL_SHARE * free:
        return "fp8_storage"
    return "group_offload"


def free_device_memory(device: str) -> int | None:
    """Free bytes on a CUDA device (None elsewhere)."""
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return int(free)


def step_down(mode: str, device: str = "cuda") -> str | None:
    """The next mode down the out-of-memory ladder that ``device`` can run: one that keeps less
    on the device (None at the bottom, and for a mode that is not on the ladder, ``auto``,
    which is resolved first)."""
    if mode not in LADDER:
        return None
    below = LADDER[LADDER.index(mode) + 1 :]
    runnable = [m for m in below if device.startswith("cuda") or m not in CUDA_ONLY]
    return runnable[0] if runnable else None


def apply_memory(pipe: Any, mode: str, device: str, denoisers: list[Any], compute_dtype: Any) -> None:
    """Place ``pipe``'s weights as ``mode`` says (see the module table)."""
    import torch

    if mode == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
        return
    if mode == "group_offload":
        pipe.enable_group_offload(onload_device=torch.device(device), offload_device=torch.device("cpu"),
                                  offload_type="leaf_level", use_stream=True)
        return
    pipe.to(device)
    if mode == "fp8_storage":
        for module in denoisers:
            module.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype)
