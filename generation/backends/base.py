"""What every backend declares, and the input checks they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generation.types import RenderRequest
from shots.families import FamilySpec


@dataclass(frozen=True)
class Backend:
    """How storyreel drives one model family's diffusers pipeline.

    Attributes:
        family: Key in `shots.families.FAMILIES`.
        spec: Size and frame rules, checked before any work.
        t2v_class: Pipeline class that renders from text alone with the same weights, if any
            (used for a ``cut`` shot with no reference image and no keyframe model).
        fp32_components: Components kept in float32 whatever the dtype (quality-critical).
        call_kwargs: Family-specific pipeline arguments beyond the common ones.
        transformers: Pipeline attributes holding denoisers (Wan 2.2 A14B has two experts).
    """

    family: str
    spec: FamilySpec
    t2v_class: str | None = None
    fp32_components: tuple[str, ...] = ()
    call_kwargs: Callable[[RenderRequest, int], dict[str, Any]] = lambda request, fps: {}
    transformers: tuple[str, ...] = field(default=("transformer",))

    def check_inputs(self, request: RenderRequest) -> None:
        """Raise ValueError naming the parameter, before any model work.

        diffusers would round sizes and frame counts silently; storyreel refuses instead.
        """
        self.spec.check_size(request.width, request.height)
        self.spec.check_frames(request.frames)
        if self.spec.max_frames is not None and request.frames > self.spec.max_frames:
            raise ValueError(
                f"num_frames={request.frames} is more than {self.family} renders "
                f"({self.spec.max_frames})"
            )
        if request.steps < 1:
            raise ValueError(f"num_inference_steps={request.steps} must be at least 1")
        if request.guidance < 0:
            raise ValueError(f"guidance_scale={request.guidance} must be ≥ 0")
        if not 0 <= request.seed < 2**32:
            raise ValueError(f"seed={request.seed} must be in [0, 2**32)")
        image = request.image
        if image.dtype.name != "uint8" or image.shape != (request.height, request.width, 3):
            raise ValueError(
                f"image must be uint8 ({request.height}, {request.width}, 3), "
                f"got {image.dtype} {image.shape}"
            )
