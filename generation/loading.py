"""Loading pipelines from local directories (or hub ids), once per process.

`load_pipeline` detects the family from ``model_index.json``, refuses anything it cannot
load safely (missing dir, not a pipeline, unsupported family, no safetensors) before touching
weights, applies the load-time speed knobs, and caches the result per
(model, device, dtype, options).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.backends import BACKENDS, Backend
from generation.speed import (
    cache_config,
    denoisers,
    resolve_device,
    resolve_dtype,
    set_cache,
)
from generation.types import LoadOptions
from shots.threads import MODEL_BUILD
from shots.errors import ModelLoadError
from shots.families import PIPELINE_CLASSES, family_of_dir, family_of_index

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
log = logging.getLogger(__name__)


@dataclass
class LoadedPipeline:
    """A pipeline ready to render, with what it was loaded with.

    Attributes:
        lock: Held while rendering: a pipeline's scheduler is not thread-safe.
        mag_ratios: MagCache ratios per step count, learnt on the first render.
    """

    pipe: Any
    backend: Backend
    model: str
    options: LoadOptions
    load_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    mag_ratios: dict[int, list[float]] = field(default_factory=dict)
    cache_steps: int | None = None
    renders: int = 0
    memory: str = "full"  # the mode it was placed with (`auto` resolved)
    adapters: set[str] = field(default_factory=set)  # LoRA adapters loaded into its denoisers
    lora_loads: Counter[str] = field(default_factory=Counter)  # loads per LoRA file checksum
    schedulers: dict[Any, Any] = field(default_factory=dict)  # built per (name, shift); None: its own
    _derived: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The model family key."""
        return self.backend.family

    def text_to_video(self) -> Any | None:
        """A text-only pipeline sharing these weights, when the family has one."""
        if self.backend.t2v_class is None:
            return None
        return self.derived(self.backend.t2v_class)

    def derived(self, class_name: str) -> Any:
        """Another diffusers pipeline class built on these loaded components (``from_pipe``,
        no second copy of the weights), made once."""
        if class_name not in self._derived:
            import diffusers

            pipe = getattr(diffusers, class_name).from_pipe(self.pipe)
            pipe.set_progress_bar_config(disable=True)
            self._derived[class_name] = pipe
        return self._derived[class_name]


def inspect_model_dir(model: str) -> tuple[str, dict[str, Any]]:
    """Family and parsed model_index.json of a local pipeline directory, or ModelLoadError."""
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelLoadError(f"model directory {model!r} does not exist")
    if not path.is_dir():
        raise ModelLoadError(f"model {model!r} is a file; give a diffusers pipeline directory")
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ModelLoadError(
            f"{model!r} is not a diffusers pipeline (no model_index.json); "
            "download a -Diffusers variant, e.g. Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
        )
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{index_file}: unreadable model_index.json ({exc})") from None
    family = family_of_dir(path, index) if isinstance(index, dict) else None
    if family is None:
        name = index.get("_class_name") if isinstance(index, dict) else None
        raise ModelLoadError(
            f"{model!r} holds an unsupported pipeline {name!r}; supported: "
            + ", ".join(sorted(PIPELINE_CLASSES))
        )
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        folder = path / component
        weights = [p for p in folder.glob("*") if p.suffix in WEIGHT_SUFFIXES] if folder.is_dir() else []
        if weights and not any(p.suffix == ".safetensors" for p in weights):
            raise ModelLoadError(
                f"{folder} has no safetensors weights ({weights[0].name}); storyreel loads "
                "safetensors only — convert the checkpoint first"
            )
    return family, index


def quiet_progress_bars() -> None:
    """Silence diffusers' and transformers' load/save progress bars (ours are Rich)."""
    import diffusers.utils.logging
    import transformers.utils.logging

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def _torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _load(model: str, options: LoadOptions) -> LoadedPipeline:
    import diffusers

    quiet_progress_bars()
    start = time.perf_counter()
    local = Path(model).expanduser()
    if local.exists() or model.startswith((".", "/", "~")):
        family, index = inspect_model_dir(model)
        source = str(local)
    else:  # a hub id: only with network; HF_HUB_OFFLINE=1 makes it fail at once
        try:
            index = diffusers.DiffusionPipeline.load_config(model)
        except Exception as exc:  # hub errors have many types; all mean "cannot load"
            raise ModelLoadError(f"cannot fetch {model!r} from the model hub: {exc}") from None
        family = family_of_index(index)
        if family is None:
            raise ModelLoadError(f"{model!r} holds an unsupported pipeline {index.get('_class_name')!r}")
        source = model
    backend = BACKENDS[family]
    dtype = _torch_dtype(options.dtype)
    cls = getattr(diffusers, index["_class_name"])
    overrides: dict[str, Any] = {}
    MODEL_BUILD.acquire()  # see shots.threads: no scorer is built while this pipeline is
    try:
        for component in backend.fp32_components:
            spec = index.get(component)
            if options.dtype != "float32" and isinstance(spec, list) and spec[0] is not None:
                loader = getattr(diffusers, spec[1], None)
                if loader is None:
                    import transformers

                    loader = getattr(transformers, spec[1])
                overrides[component] = loader.from_pretrained(
                    source, subfolder=component, dtype=_torch_dtype("float32"), use_safetensors=True
                )
        pipe = cls.from_pretrained(source, dtype=dtype, use_safetensors=True, **overrides)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load {model!r}: {exc}") from None
    finally:
        MODEL_BUILD.release()
    pipe.set_progress_bar_config(disable=True)
    for module in pipe.components.values():
        if hasattr(module, "eval"):
            module.eval()
    memory = _apply(pipe, backend, options, source)
    log.info("%s loaded with memory mode %s", model, memory)
    return LoadedPipeline(pipe, backend, model, options, time.perf_counter() - start, memory=memory)


def resolve_memory(options: LoadOptions, source: str) -> str:
    """The memory mode to load with (`generation.memory.choose_memory`): ``auto`` weighs the
    folder's denoiser weights against the device's free memory."""
    from generation.memory import choose_memory, free_device_memory, weight_bytes

    weights = weight_bytes(Path(source)) if options.memory == "auto" and Path(source).is_dir() else 0
    return choose_memory(options.memory, options.device, weights, free_device_memory(options.device))


def _apply(pipe: Any, backend: Backend, options: LoadOptions, source: str) -> str:
    """Apply the load-time knobs: memory mode, VAE tiling, cache hook, compile; the mode used."""
    from generation.memory import apply_memory

    memory = resolve_memory(options, source)
    apply_memory(pipe, memory, options.device, denoisers(pipe, backend.transformers), _torch_dtype(options.dtype))
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    modules = denoisers(pipe, backend.transformers)
    if options.cache not in ("off", "mag"):  # mag is set per step count at render time
        set_cache(modules, cache_config(options.cache, pipe, options.cache_threshold, 0, None))
    if options.compile:
        for module in modules:
            module.compile_repeated_blocks(fullgraph=True)
    return memory


class PipelineCache:
    """Process-level cache: one load per (model, options); counts loads for tests/benchmarks."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, LoadOptions], LoadedPipeline] = {}
        self._locks: dict[tuple[str, LoadOptions], threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads: Counter[tuple[str, LoadOptions]] = Counter()

    def get(self, model: str, options: LoadOptions) -> LoadedPipeline:
        """The loaded pipeline for ``model``; loads it on first use (once, even across threads)."""
        device = resolve_device(options.device)
        options = LoadOptions(
            **{**options.__dict__, "device": device, "dtype": resolve_dtype(options.dtype, device)}
        )
        key = (str(model), options)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._items:
                self._items[key] = _load(str(model), options)
                self.loads[key] += 1
            return self._items[key]

    def clear(self) -> None:
        """Forget every pipeline (frees memory once nothing else holds them)."""
        with self._guard:
            self._items.clear()
            self.loads.clear()


PIPELINES = PipelineCache()


def load_pipeline(model: str, options: LoadOptions | None = None) -> LoadedPipeline:
    """Load (or reuse) the pipeline for ``model`` in this process."""
    return PIPELINES.get(model, options or LoadOptions())
