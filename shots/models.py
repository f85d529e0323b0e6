"""The storyboard as frozen pydantic models.

Every input format (YAML, Fountain, CSV) produces a `Storyboard`. Field-level rules live on the
models; rules that span the whole storyboard (unique ids, known characters, reference files,
transitions between shots) live in `shots.checks` so that each parser can point at a line.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

METRICS = ("identity", "temporal", "boundary", "motion", "prompt", "flicker", "color_drift", "draft")
"""Every metric a take is scored on; threshold keys must be among these."""

ShotId = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
]

# Limits on what a storyboard may ask for (README, "Limits"): beyond them no model renders.
MAX_SIDE = 4096
MAX_FPS = 120
MAX_STEPS = 1000
MAX_TAKES = 50
MAX_SECONDS = 600.0
MAX_GUIDANCE = 50.0
MAX_WINDOW = 1000
MAX_TEXT = 20_000
MAX_PATH = 4096
MAX_CONTEXT = 257
MAX_LORA_SCALE = 10.0


def _not_bool(value: Any) -> Any:
    """YAML's true/false are not numbers (pydantic would read ``fps: true`` as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _int(low: int, high: int) -> Any:
    def bounded(value: Any) -> Any:
        value = _not_bool(value)
        if isinstance(value, str):  # YAML reads 1e30 as text; CSV cells are always text
            try:
                value = float(value) if any(c in value.lower() for c in ".e") else int(value)
            except ValueError:
                raise ValueError(f"must be a whole number from {low} to {high}, not {value!r}") from None
        if isinstance(value, float) and not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return Annotated[int, BeforeValidator(bounded), Field(ge=low, le=high)]


def _float(low: float, high: float, *, exclusive: bool = False) -> Any:
    bound = {"gt": low} if exclusive else {"ge": low}
    return Annotated[float, BeforeValidator(_not_bool), Field(le=high, allow_inf_nan=False, **bound)]


Side = _int(1, MAX_SIDE)
Seed = _int(0, 2**32 - 1)
Steps = _int(1, MAX_STEPS)
Guidance = _float(0.0, MAX_GUIDANCE)
Seconds = _float(0.0, MAX_SECONDS, exclusive=True)
Threshold = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
PathText = Annotated[str, Field(min_length=1, max_length=MAX_PATH)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Lora(_Frozen):
    """A LoRA to apply: a ``.safetensors`` file in the storyboard's folder or under
    ``<home>/loras/``, its strength, and the words that call it up (joined to the prompt)."""

    path: PathText  # type: ignore[valid-type]
    scale: _float(-MAX_LORA_SCALE, MAX_LORA_SCALE) = 1.0  # type: ignore[valid-type]
    trigger: Annotated[str, Field(min_length=1, max_length=200)] | None = None


Loras = tuple[Lora, ...]
Scheduler = Literal["unipc", "euler", "dpm++"]
Memory = Literal["auto", "full", "model_offload", "group_offload", "fp8_storage"]


class Crossfade(_Frozen):
    """A dissolve into the next shot lasting ``crossfade`` seconds."""

    crossfade: Seconds  # type: ignore[valid-type]


Transition = Literal["cut"] | Crossfade
Continuity = Literal["cut", "continue"]
Thresholds = dict[Literal[METRICS], Threshold | None]  # type: ignore[valid-type]


class Draft(_Frozen):
    """The settings of the draft pass (`render --pass draft`), each replacing the storyboard's:
    fewer steps, a step-distilled LoRA, a cache knob, a lower resolution — cheap takes to
    review before the final pass re-renders the approved ones with the full settings."""

    steps: Steps | None = None  # type: ignore[valid-type]
    guidance: Guidance | None = None  # type: ignore[valid-type]
    width: Side | None = None  # type: ignore[valid-type]
    height: Side | None = None  # type: ignore[valid-type]
    loras: Loras | None = None
    scheduler: Scheduler | None = None
    flow_shift: _float(0.0, 100.0, exclusive=True) | None = None  # type: ignore[valid-type]
    cache: Literal["off", "first_block", "mag", "taylorseer", "pyramid"] | None = None
    max_takes: _int(1, MAX_TAKES) | None = None  # type: ignore[valid-type]


class Settings(_Frozen):
    """Render, scoring and speed settings; every field has a sensible default.

    ``width``/``height``/``fps`` left empty take the model family's native values.
    """

    model: PathText = "tiny"  # type: ignore[valid-type]
    width: Side | None = None  # type: ignore[valid-type]
    height: Side | None = None  # type: ignore[valid-type]
    fps: _int(1, MAX_FPS) | None = None  # type: ignore[valid-type]
    steps: Steps = 20  # type: ignore[valid-type]
    guidance: Guidance = 5.0  # type: ignore[valid-type]
    # None: the model's own scheduler; else built from its config, with flow_shift.
    scheduler: Scheduler | None = None
    flow_shift: _float(0.0, 100.0, exclusive=True) | None = None  # type: ignore[valid-type]
    loras: Loras = ()
    seed: Seed = 0  # type: ignore[valid-type]
    negative_prompt: Text = ""  # type: ignore[valid-type]
    max_takes: _int(1, MAX_TAKES) = 3  # type: ignore[valid-type]
    # Chaining: which frame of the previous take conditions a `continue` shot.
    keyframe: Literal["sharpest", "last"] = "sharpest"
    keyframe_window: _int(1, MAX_WINDOW) = 8  # type: ignore[valid-type]
    context_frames: _int(1, MAX_CONTEXT) | None = None  # type: ignore[valid-type]  # K; None: the family's
    t2i_model: PathText | None = None  # type: ignore[valid-type]
    # Pre-production: the views of a character's sheet (the first is the identity portrait).
    sheet_views: Annotated[tuple[Annotated[str, Field(min_length=1, max_length=40)], ...], Field(min_length=1, max_length=8)] = (
        "front", "three-quarter", "full figure")
    # A transformers causal-LM folder with a chat template: expands each composed prompt.
    prompt_model: PathText | None = None  # type: ignore[valid-type]
    # Another such folder: breaks a screenplay down (shot lists, character bible), checked.
    breakdown_model: PathText | None = None  # type: ignore[valid-type]
    # Consistency.
    scorer: PathText = "tiny"  # type: ignore[valid-type]
    thresholds: Thresholds = Field(default_factory=dict)
    color_match: Literal["scene", "previous", "off"] = "off"
    # Speed knobs.
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    attention_backend: Annotated[str, Field(max_length=64)] | None = None
    cache: Literal["off", "first_block", "mag", "taylorseer", "pyramid"] = "off"
    compile: bool = False
    vae_tiling: bool = False
    memory: Memory = "auto"
    cpu_offload: bool = False  # the old name of memory: model_offload
    # The cut.
    audio: PathText | None = None  # type: ignore[valid-type]
    # The draft pass (`render --pass draft`): what it changes.
    draft: Draft | None = None


class Origin(_Frozen):
    """Where a character's description came from: a file, its line, and how it was read
    (``appositive``, ``relative clause``, ``named``, ``phrase``, ``name only``, ``sidecar``,
    ``storyboard``)."""

    file: Annotated[str, Field(max_length=MAX_PATH)]
    line: int | None = None
    how: Annotated[str, Field(max_length=40)] = "storyboard"
    # The words of the introducing sentence just before and after the name that the
    # description stands for (``his father ``, ``, 40's and handsome,``): a prompt woven from
    # that sentence leaves them out rather than say the description twice.
    around: tuple[Annotated[str, Field(max_length=MAX_TEXT)], Annotated[str, Field(max_length=MAX_TEXT)]] | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} ({self.how})"


Name = Annotated[str, Field(min_length=1, max_length=200)]


class Look(_Frozen):
    """A later look of a character (aged, re-dressed): in force from scene ``from`` on (with
    ``flashback``, in that scene only), or — with ``named`` (``YOUNG EDWARD``) — in the scenes
    that name the character so. Identity is
    judged per look: a child and the adult are not the same anchor."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    from_: ShotId | None = Field(None, alias="from")
    named: Name | None = None  # type: ignore[valid-type]
    flashback: bool = False  # holds in scene ``from`` only (the character younger than before)
    description: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    reference: PathText | None = None  # type: ignore[valid-type]
    origin: Origin | None = None

    @property
    def key(self) -> str:
        """How scenes and anchors name this look: its ``named`` spelling, else its scene."""
        return self.named or self.from_ or "base"


class Character(_Frozen):
    """A recurring character; ``reference`` is an image path relative to the storyboard.

    ``names`` are how prompts name the character (``June Harlow``, ``June``): a prompt that
    names it gets its description in the name's place, once, and a short phrase after that
    ("the lanky mechanic"). A character without names keeps the older composition: its
    description as a sentence of its own before the shot's prompt.
    """

    description: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    reference: PathText | None = None  # type: ignore[valid-type]
    loras: Loras = ()  # applied in every shot the character is in
    names: tuple[Name, ...] = ()  # type: ignore[valid-type]
    origin: Origin | None = None  # set by the parsers
    looks: tuple[Look, ...] = ()  # later looks, in story order


class Shot(_Frozen):
    """One shot. ``transition`` is how this shot ends into the next one."""

    id: ShotId
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    characters: tuple[str, ...] = ()
    camera: Text | None = None  # type: ignore[valid-type]
    duration: Seconds = 3.0  # type: ignore[valid-type]
    continuity: Continuity | None = None
    transition: Transition = "cut"
    seed: Seed | None = None  # type: ignore[valid-type]
    negative_prompt: Text | None = None  # type: ignore[valid-type]
    steps: Steps | None = None  # type: ignore[valid-type]
    guidance: Guidance | None = None  # type: ignore[valid-type]
    reference: PathText | None = None  # type: ignore[valid-type]
    end_frame: PathText | None = None  # type: ignore[valid-type]  # an image to land on, "next", or "auto" (its end keyframe)
    loras: Loras = ()
    thresholds: Thresholds = Field(default_factory=dict)
    dialogue: tuple[Text, ...] = ()  # type: ignore[valid-type]  # "CUE: line", stored for the dialogue work
    line: Annotated[int, Field(ge=1)] | None = None  # where a screenplay's shot comes from


class Scene(_Frozen):
    """A run of shots; the first one starts from a keyframe unless it says ``continue``."""

    id: ShotId
    heading: str | None = None
    line: Annotated[int, Field(ge=1)] | None = None  # a screenplay's heading line
    shots: tuple[Shot, ...] = Field(min_length=1)
    # Character id → the key of its look in this scene, where the scene's order alone would
    # pick another (a heading's year, a character named "YOUNG EDWARD").
    looks: dict[ShotId, Name] = Field(default_factory=dict)  # type: ignore[valid-type]


class Storyboard(_Frozen):
    """A whole storyboard. Build it with `shots.parsers.load_storyboard`."""

    title: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    settings: Settings = Field(default_factory=Settings)
    style: Text | None = None  # type: ignore[valid-type]
    characters: dict[ShotId, Character] = Field(default_factory=dict)
    scenes: tuple[Scene, ...] = Field(min_length=1)

    def shot_list(self) -> list[tuple[Scene, Shot]]:
        """Every shot with its scene, in story order."""
        return [(scene, shot) for scene in self.scenes for shot in scene.shots]

    @functools.cached_property
    def scene_positions(self) -> dict[str, int]:
        """Each scene id's position in story order."""
        return {scene.id: i for i, scene in enumerate(self.scenes)}

    @functools.cached_property
    def _scene_of(self) -> dict[str, tuple[int, Scene]]:
        return {shot.id: (i, scene) for i, scene in enumerate(self.scenes) for shot in scene.shots}

    def scene_of(self, shot_id: str) -> tuple[int, Scene]:
        """The position and scene of a shot (KeyError when absent)."""
        return self._scene_of[shot_id]

    @functools.cached_property
    def _shots(self) -> dict[str, Shot]:
        return {shot.id: shot for scene in self.scenes for shot in scene.shots}

    def shot(self, shot_id: str) -> Shot:
        """The shot with this id (KeyError when absent)."""
        return self._shots[shot_id]
