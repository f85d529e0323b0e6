"""The storyboard as frozen pydantic models.

Every input format (YAML, Fountain, CSV) produces a `Storyboard`. Field-level rules live on the
models; rules that span the whole storyboard (unique ids, known characters, reference files,
transitions between shots) live in `shots.checks` so that each parser can point at a line.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

METRICS = ("identity", "temporal", "boundary", "prompt", "flicker", "color_drift")
"""Every metric a take is scored on; threshold keys must be among these."""

ShotId = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Crossfade(_Frozen):
    """A dissolve into the next shot lasting ``crossfade`` seconds."""

    crossfade: PositiveFloat


Transition = Literal["cut"] | Crossfade
Continuity = Literal["cut", "continue"]
Thresholds = dict[Literal[METRICS], float | None]  # type: ignore[valid-type]


class Settings(_Frozen):
    """Render, scoring and speed settings; every field has a sensible default.

    ``width``/``height``/``fps`` left empty take the model family's native values.
    """

    model: str = "tiny"
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    fps: PositiveInt | None = None
    steps: PositiveInt = 20
    guidance: float = Field(default=5.0, ge=0)
    seed: int = Field(default=0, ge=0, lt=2**32)
    negative_prompt: str = ""
    max_takes: PositiveInt = 3
    # Chaining: which frame of the previous take conditions a `continue` shot.
    keyframe: Literal["sharpest", "last"] = "sharpest"
    keyframe_window: PositiveInt = 8
    t2i_model: str | None = None
    # Consistency.
    scorer: str = "tiny"
    thresholds: Thresholds = Field(default_factory=dict)
    color_match: Literal["scene", "previous", "off"] = "off"
    # Speed knobs.
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    attention_backend: str | None = None
    cache: Literal["off", "first_block", "mag", "taylorseer", "pyramid"] = "off"
    compile: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    # The cut.
    audio: str | None = None


class Character(_Frozen):
    """A recurring character; ``reference`` is an image path relative to the storyboard."""

    description: str = Field(min_length=1)
    reference: str | None = None


class Shot(_Frozen):
    """One shot. ``transition`` is how this shot ends into the next one."""

    id: ShotId
    prompt: str = Field(min_length=1)
    characters: tuple[str, ...] = ()
    camera: str | None = None
    duration: PositiveFloat = 3.0
    continuity: Continuity | None = None
    transition: Transition = "cut"
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    negative_prompt: str | None = None
    steps: PositiveInt | None = None
    guidance: float | None = Field(default=None, ge=0)
    reference: str | None = None
    thresholds: Thresholds = Field(default_factory=dict)
    dialogue: tuple[str, ...] = ()


class Scene(_Frozen):
    """A run of shots; the first one starts from a keyframe unless it says ``continue``."""

    id: ShotId
    heading: str | None = None
    shots: tuple[Shot, ...] = Field(min_length=1)


class Storyboard(_Frozen):
    """A whole storyboard. Build it with `shots.parsers.load_storyboard`."""

    title: str = Field(min_length=1)
    settings: Settings = Field(default_factory=Settings)
    style: str | None = None
    characters: dict[ShotId, Character] = Field(default_factory=dict)
    scenes: tuple[Scene, ...] = Field(min_length=1)

    def shot_list(self) -> list[tuple[Scene, Shot]]:
        """Every shot with its scene, in story order."""
        return [(scene, shot) for scene in self.scenes for shot in scene.shots]

    def shot(self, shot_id: str) -> Shot:
        """The shot with this id (KeyError when absent)."""
        for _, shot in self.shot_list():
            if shot.id == shot_id:
                return shot
        raise KeyError(shot_id)
