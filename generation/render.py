"""`render_take`: one seeded take from a loaded pipeline, timed per phase."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from generation.frames import to_uint8
from generation.loading import LoadedPipeline
from generation.loras import apply_loras
from generation.schedulers import use_scheduler
from generation.speed import (
    AttentionCounter,
    attention_scope,
    cache_config,
    capture_mag_ratios,
    denoisers,
    set_cache,
)
from generation.types import RenderRequest, RenderResult, Timings
from shots.errors import GenerationError, TransientGenerationError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def phase_timer(pipe: Any, timings: Timings) -> Iterator[None]:
    """Time the text encoder's forward and the VAE's decode inside one pipeline call."""
    handles = []
    started: list[float] = []
    encoder = getattr(pipe, "text_encoder", None)
    if encoder is not None:
        handles.append(encoder.register_forward_pre_hook(lambda *_: started.append(time.perf_counter())))

        def after(*_: Any) -> None:
            timings.text_encode += time.perf_counter() - started.pop()

        handles.append(encoder.register_forward_hook(after))
    vae = pipe.vae
    original = vae.decode

    def timed_decode(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timings.decode += time.perf_counter() - t0

    vae.decode = timed_decode
    try:
        yield
    finally:
        vae.decode = original
        for handle in handles:
            handle.remove()


def _prepare_cache(loaded: LoadedPipeline, steps: int) -> bool:
    """Set the MagCache config for this step count; True when this render calibrates."""
    options = loaded.options
    if options.cache != "mag" or loaded.cache_steps == steps and steps in loaded.mag_ratios:
        return False
    ratios = loaded.mag_ratios.get(steps)
    config = cache_config("mag", loaded.pipe, options.cache_threshold, steps, ratios)
    set_cache(denoisers(loaded.pipe, loaded.backend.transformers), config)
    loaded.cache_steps = steps
    return ratios is None


def call_pipeline(pipe: Any, kwargs: dict[str, Any]) -> Any:
    """The one place a diffusers pipeline is called (tests look at what it is given here)."""
    return pipe(**kwargs)


def choose_pipeline(loaded: LoadedPipeline, request: RenderRequest) -> Any:
    """The pipeline for ``request``: the family's own choice, else the text-only one for a
    shot with no start image, else the loaded one."""
    backend = loaded.backend
    if backend.pipeline_for is not None and (pipe := backend.pipeline_for(loaded, request)) is not None:
        return pipe
    if not request.start_image:
        pipe = loaded.text_to_video()
        if pipe is None:
            raise ValueError(f"{backend.family} has no text-to-video mode; give a conditioning image")
        return pipe
    return loaded.pipe


@contextlib.contextmanager
def checked_often(pipe: Any, check: Callable[[], None] | None) -> Iterator[None]:
    """Call ``check`` before every leaf layer of ``pipe``'s models runs, for the block."""
    import torch

    if check is None:
        yield
        return
    models = [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    handles = [m.register_forward_pre_hook(lambda *_: check()) for model in models for m in model.modules()
               if next(m.children(), None) is None]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def render_take(
    loaded: LoadedPipeline,
    request: RenderRequest,
    fps: int,
    progress: Progress | None = None,
    text_only: bool = False,
    interrupt: Callable[[], None] | None = None,
) -> RenderResult:
    """Render one take. The seed fully determines the frames on a given device.

    Args:
        loaded: From `load_pipeline`.
        request: What to render; checked before any model work.
        fps: Frame rate of the clip (LTX conditions on it).
        progress: Called with (step, steps) after each denoising step.
        text_only: No start image (the same as ``request.start_image=False``).
        interrupt: Called before each layer the pipeline runs; what it raises ends the take
            within a layer rather than a denoising step (a stop asked for mid-step).

    Returns:
        The take: the pipeline's frames after any context frames it was given.

    Raises:
        ValueError: An input the family does not accept (names the parameter).
        TransientGenerationError: CUDA out of memory; worth retrying with less memory.
        GenerationError: Anything else that went wrong in the model.
    """
    import dataclasses

    import torch

    if text_only:
        request = dataclasses.replace(request, start_image=False)
    backend = loaded.backend
    # 1. check inputs before any work
    backend.check_inputs(request)
    pipe = choose_pipeline(loaded, request)
    timings = Timings()
    counter = AttentionCounter()

    def on_step(_pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if progress is not None:
            progress(i + 1, request.steps)
        return kwargs

    # 2. assemble the call
    kwargs: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt or None,
        "height": request.height,
        "width": request.width,
        "num_frames": request.frames,
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        # A CPU generator draws the same noise whatever device denoises.
        "generator": torch.Generator("cpu").manual_seed(request.seed),
        "output_type": "np",
        "callback_on_step_end": on_step,
        **backend.inputs(request, fps),
    }

    # 3. denoise and decode, under the pipeline's lock (LoRAs and scheduler are the pipeline's
    #    own state) and the scoped attention backend
    with loaded.lock:
        try:
            apply_loras(loaded, request.loras)
        except (ValueError, RuntimeError, KeyError) as exc:  # peft's shape and key errors: this take fails, recorded
            raise GenerationError(f"the LoRAs could not be applied: {str(exc).strip().splitlines()[0][:300]}") from None
        use_scheduler(loaded, pipe, request.scheduler)
        calibrating = _prepare_cache(loaded, request.steps)
        if not loaded.options.compile:  # hooks inside compiled blocks would break the graph
            counter.attach(denoisers(pipe, backend.transformers))
        start = time.perf_counter()
        try:
            with attention_scope(request.attention_backend), phase_timer(pipe, timings), checked_often(pipe, None if loaded.options.compile else interrupt), (
                capture_mag_ratios() if calibrating else contextlib.nullcontext()
            ) as mag, torch.inference_mode():
                output = call_pipeline(pipe, kwargs)
        except torch.OutOfMemoryError as exc:
            raise TransientGenerationError(f"out of GPU memory: {exc}") from exc
        except (RuntimeError, IndexError) as exc:
            raise GenerationError(f"{backend.family} pipeline failed: {exc}") from exc
        finally:
            counter.detach()
        total = time.perf_counter() - start
        loaded.renders += 1
        if calibrating and mag:
            loaded.mag_ratios[request.steps] = mag[0]
            loaded.cache_steps = None  # next render enables MagCache with these ratios

    # 4. check what came out; the take is what follows the context
    video = np.asarray(output.frames[0])  # (F, H, W, 3) float in [0, 1]
    if video.shape != (request.frames, request.height, request.width, 3):
        raise GenerationError(
            f"{backend.family} produced frames of shape {video.shape}; asked for "
            f"({request.frames}, {request.height}, {request.width}, 3)"
        )
    video = video[request.kept_from :]
    timings.denoise = max(0.0, total - timings.text_encode - timings.decode)
    result = RenderResult(
        frames=to_uint8(video),
        seed=request.seed,
        device=loaded.options.device,
        timings=timings,
        attention_calls=(counter.ran, counter.full),
    )
    if loaded.options.cache != "off" and not calibrating and counter.full and result.cache_skipped == 0:
        log.warning("cache %r skipped no attention work on this take", loaded.options.cache)
    return result
