"""What every backend declares, and the input checks they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generation.types import RenderRequest
from shots.families import FamilySpec


def pil(frame: np.ndarray) -> Any:
    """A uint8 (H, W, 3) frame as a PIL image (the pipelines take PIL, not numpy)."""
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(frame))


def image_inputs(request: RenderRequest, fps: int) -> dict[str, Any]:
    """An image-to-video pipeline's conditioning: the first frame (and, for first–last-frame
    weights, the last); nothing for the text-only pipeline."""
    inputs: dict[str, Any] = {"image": pil(request.image)} if request.start_image else {}
    if request.end_image is not None:
        inputs["last_image"] = pil(request.end_image)
    return inputs


@dataclass(frozen=True)
class Backend:
    """How storyreel drives one model family's diffusers pipeline.

    Attributes:
        family: Key in `shots.families.FAMILIES`.
        spec: Size and frame rules, and what the family can be given, checked before any work.
        t2v_class: Pipeline class that renders from text alone with the same weights, if any
            (used for a ``cut`` shot with no start image).
        fp32_components: Components kept in float32 whatever the dtype (quality-critical).
        inputs: The family's conditioning arguments for a request (image, video and mask,
            reference images, conditions …) and any other argument it needs.
        transformers: Pipeline attributes holding denoisers (Wan 2.2 A14B has two experts).
        pipeline_for: Picks the pipeline for a request among the loaded one and those built
            from its components (``None``: the loaded one, or the text-only one).
    """

    family: str
    spec: FamilySpec
    t2v_class: str | None = None
    fp32_components: tuple[str, ...] = ()
    inputs: Callable[[RenderRequest, int], dict[str, Any]] = image_inputs
    transformers: tuple[str, ...] = field(default=("transformer",))
    pipeline_for: Callable[[Any, RenderRequest], Any] | None = None

    def check_inputs(self, request: RenderRequest) -> None:
        """Raise ValueError naming the parameter, before any model work.

        diffusers would round sizes and frame counts silently; storyreel refuses instead.
        """
        spec = self.spec
        spec.check_size(request.width, request.height)
        spec.check_frames(request.frames)
        if spec.max_frames is not None and request.frames > spec.max_frames:
            raise ValueError(f"num_frames={request.frames} is more than {self.family} renders ({spec.max_frames})")
        if request.steps < 1:
            raise ValueError(f"num_inference_steps={request.steps} must be at least 1")
        if request.guidance < 0:
            raise ValueError(f"guidance_scale={request.guidance} must be ≥ 0")
        if not 0 <= request.seed < 2**32:
            raise ValueError(f"seed={request.seed} must be in [0, 2**32)")
        size = (request.height, request.width, 3)
        for name, frame in (("image", request.image), ("end_image", request.end_image)):
            if frame is not None and (frame.dtype.name != "uint8" or frame.shape != size):
                raise ValueError(f"{name} must be uint8 {size}, got {frame.dtype} {frame.shape}")
        if request.end_image is not None and not spec.last_frame:
            raise ValueError(f"{self.family} cannot land on a last frame (end_image)")
        if request.end_image is None and spec.needs_end_frame:
            raise ValueError(f"{self.family} weights land every shot on a last frame: give an end_image")
        if request.context is not None:
            k = len(request.context)
            if (why := spec.context_problem(k)) is not None and not (k == 1 and spec.context == "frames"):
                raise ValueError(f"context of {k} frames: {why}")
            if request.context.dtype.name != "uint8" or request.context.shape[1:] != size:
                raise ValueError(f"context must be uint8 (K, {request.height}, {request.width}, 3), got {request.context.shape}")
            if k >= request.frames:
                raise ValueError(f"num_frames={request.frames} leaves no frame after {k} context frames")
        if request.references and not spec.reference_images:
            raise ValueError(f"{self.family} takes no reference images")
