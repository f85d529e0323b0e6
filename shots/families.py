"""What each model family demands of its inputs, as plain data.

The generation package enforces these rules before calling diffusers (which would otherwise
round sizes and frame counts silently); the planner uses them to turn seconds into frames
without loading any model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FamilySpec:
    """Input rules of one model family.

    Attributes:
        name: Family key (``wan``, ``wan22``, ``wan22_ti2v``, ``wan_vace``, ``ltx``, ``cogvideox``).
        frame_step: Valid frame counts are ``frame_step * k + 1``.
        min_frames: Smallest valid frame count.
        max_frames: Largest frame count the model is trained for (None = unbounded).
        size_multiple: Width and height must be multiples of this.
        default_width: Width used when the storyboard sets none.
        default_height: Height used when the storyboard sets none.
        default_fps: Native frame rate.
        text_tokens: Text encoder budget in tokens; longer prompts are truncated.
        text_to_video: The weights can start a shot from text alone (a text-to-video mode);
            without it a cut shot needs a reference image or a keyframe model.
        last_frame: A shot can be made to land on a given last frame (``end_frame``).
        context: How a ``continue`` shot sees the previous take: ``first`` — its one hand-off
            frame becomes the new take's first frame (image-to-video); ``frames`` — its last K
            frames are given as frames of the video and the take is what follows them.
        default_context: K when the storyboard sets no ``context_frames``.
        reference_images: Character images condition every shot (identity across cuts).
        needs_end_frame: Every shot must land on a given last frame (first–last-frame weights).
    """

    name: str
    frame_step: int
    min_frames: int
    max_frames: int | None
    size_multiple: int
    default_width: int
    default_height: int
    default_fps: int
    text_tokens: int
    text_to_video: bool = False
    last_frame: bool = False
    context: str = "first"
    default_context: int = 1
    reference_images: bool = False
    needs_end_frame: bool = False

    def context_problem(self, k: int) -> str | None:
        """Why this family cannot continue from ``k`` frames of the previous take (None: it can)."""
        if k == 1:
            return None
        if self.context != "frames":
            return f"{self.name} continues from one frame; K-frame continuation needs Wan VACE (wan_vace) or LTX-Video"
        if self.name == "ltx" and (k - 1) % self.frame_step:
            return f"LTX-Video continues from 1 or {self.frame_step}k+1 frames (e.g. 9, 17), not {k}"
        return None

    def dropped(self, k: int) -> int:
        """Frames of a continue shot's pipeline output that repeat the previous take: the K
        context frames where they are given as video (VACE; LTX with K > 1), none where the one
        hand-off frame only starts the take (image-to-video)."""
        return k if self.context == "frames" and (k > 1 or self.name == "wan_vace") else 0

    def continued_frames(self, seconds: float, fps: float, k: int) -> tuple[int, int]:
        """(frames the pipeline renders, frames the take keeps) for a continue shot of ``seconds``
        from ``k`` context frames: the pipeline's count is a valid one nearest to K + the
        shot's frames; the take keeps what follows the context."""
        drop = self.dropped(k)
        if drop == 0:
            frames = self.frames_for(seconds, fps)
            return frames, frames
        total = self.frames_for((seconds * fps + drop) / fps, fps)
        while total - drop < 1:
            total += self.frame_step
        return total, total - drop

    def frames_for(self, seconds: float, fps: float) -> int:
        """Nearest valid frame count for a duration (ties round up), clamped to the model's range."""
        raw = seconds * fps
        k = max(0, int((raw - 1) / self.frame_step + 0.5))
        frames = max(self.min_frames, self.frame_step * k + 1)
        if self.max_frames is not None:
            frames = min(frames, self.max_frames)
        return frames

    def duration_problem(self, seconds: float, fps: float) -> str | None:
        """Why this family cannot render a shot of ``seconds`` at ``fps`` (None when it can).

        The frame count is rounded to the family's rule (and reported by plan); a duration
        further than half a step outside the family's range is refused instead of clamped.
        """
        raw = seconds * fps
        half = self.frame_step / 2
        if raw < self.min_frames - half:
            return (
                f"{seconds:g} s at {fps:g} fps is {raw:.2f} frames; {self.name} renders at least "
                f"{self.min_frames} frames ({self.min_frames / fps:.2f} s)"
            )
        if self.max_frames is not None and raw > self.max_frames + half:
            return (
                f"{seconds:g} s at {fps:g} fps is {raw:.0f} frames; {self.name} renders at most "
                f"{self.max_frames} frames ({self.max_frames / fps:.2f} s): split the shot"
            )
        if raw > MAX_SHOT_FRAMES:
            return f"{seconds:g} s at {fps:g} fps is {raw:.0f} frames; a shot has at most {MAX_SHOT_FRAMES} frames"
        return None

    def check_frames(self, frames: int) -> None:
        """Raise ValueError unless ``frames`` is valid for this family."""
        if frames < self.min_frames or (frames - 1) % self.frame_step:
            raise ValueError(
                f"num_frames={frames} is not valid for {self.name}: "
                f"use {self.frame_step}k+1 frames, at least {self.min_frames}"
            )

    def check_size(self, width: int, height: int) -> None:
        """Raise ValueError unless width and height are positive multiples of size_multiple."""
        for name, value in (("width", width), ("height", height)):
            if value <= 0 or value % self.size_multiple:
                raise ValueError(
                    f"{name}={value} is not valid for {self.name}: "
                    f"use a positive multiple of {self.size_multiple}"
                )


MAX_SHOT_FRAMES = 2049
"""No shot renders more frames than this in one piece, whatever the family (README, "Limits")."""

FAMILIES: dict[str, FamilySpec] = {
    "wan": FamilySpec("wan", 4, 5, None, 16, 832, 480, 16, 512),
    # Wan 2.1 FLF2V: the I2V pipeline with a transformer for two images (first and last frame);
    # it needs both on every shot.
    "wan_flf2v": FamilySpec("wan_flf2v", 4, 5, None, 16, 1280, 720, 16, 512, last_frame=True, needs_end_frame=True),
    "wan22": FamilySpec("wan22", 4, 5, None, 16, 1280, 720, 16, 512),
    "wan22_ti2v": FamilySpec("wan22_ti2v", 4, 5, None, 32, 1280, 704, 24, 512, text_to_video=True),
    "wan_vace": FamilySpec("wan_vace", 4, 5, None, 16, 832, 480, 16, 512, text_to_video=True, last_frame=True,
                           context="frames", default_context=8, reference_images=True),
    "ltx": FamilySpec("ltx", 8, 9, None, 32, 704, 480, 24, 128, text_to_video=True, last_frame=True, context="frames"),
    "cogvideox": FamilySpec("cogvideox", 8, 9, 49, 16, 720, 480, 8, 226),
}

TINY_MODEL = "tiny"
# The embedded tiny model is Wan-architecture but small enough for a CPU.
TINY_SPEC = FamilySpec("wan", 4, 5, None, 16, 64, 64, 16, 64)
WORLD_T2I = "world"
"""The embedded model's keyframe source: the synthetic world it was trained on draws a first
frame from a caption of its grammar (`generation.world.keyframe`)."""


def default_t2i(model: str, t2i_model: str | None) -> str | None:
    """The keyframe model of a cut shot without a reference: the storyboard's, else the
    world's for the embedded model, else none."""
    return t2i_model or (WORLD_T2I if model == TINY_MODEL else None)

# model_index.json `_class_name` → family.
PIPELINE_CLASSES: dict[str, str] = {
    "WanImageToVideoPipeline": "wan",
    "WanPipeline": "wan",
    "WanVACEPipeline": "wan_vace",
    "LTXImageToVideoPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "LTXPipeline": "ltx",
    "CogVideoXImageToVideoPipeline": "cogvideox",
    "CogVideoXPipeline": "cogvideox",
}


def family_of_index(index: dict[str, object]) -> str | None:
    """Family key for a parsed ``model_index.json``, or None when unsupported.

    Wan 2.2 uses Wan's pipeline classes; it is told apart by a second transformer (A14B)
    or by ``expand_timesteps`` (TI2V-5B).
    """
    family = PIPELINE_CLASSES.get(str(index.get("_class_name", "")))
    if family in ("wan", "wan22"):
        if index.get("expand_timesteps") is True:
            return "wan22_ti2v"
        if _is_set(index.get("transformer_2")):
            return "wan22"
    return family


def family_of_dir(folder: Path, index: dict[str, object]) -> str | None:
    """`family_of_index`, told apart further by what the weights are: a Wan 2.1 image-to-video
    transformer made for two images (``pos_embed_seq_len``) is first–last-frame (FLF2V)."""
    family = family_of_index(index)
    if family == "wan":
        try:
            config = json.loads((folder / "transformer" / "config.json").read_text())
        except (OSError, ValueError):
            config = {}
        if isinstance(config, dict) and config.get("pos_embed_seq_len"):
            return "wan_flf2v"
    return family


def _is_set(component: object) -> bool:
    return isinstance(component, list) and len(component) == 2 and component[0] is not None


def spec_for_model(model: str) -> FamilySpec:
    """Best guess of a model's rules without loading it (for planning).

    ``tiny`` is the embedded model; a directory with ``model_index.json`` is read; a name
    mentioning a family is matched; anything else plans with Wan's rules.
    """
    if model == TINY_MODEL:
        return TINY_SPEC
    try:  # a name as hostile as ``~nosuchuser/x`` or 300 bytes long plans with the rules below
        index_file = Path(model).expanduser() / "model_index.json"
        family = family_of_dir(index_file.parent, json.loads(index_file.read_text())) if index_file.is_file() else None
    except (OSError, ValueError, RuntimeError, AttributeError):
        family = None
    if family:
        return FAMILIES[family]
    lowered = model.lower()
    if "vace" in lowered:
        return FAMILIES["wan_vace"]
    if "flf2v" in lowered:
        return FAMILIES["wan_flf2v"]
    if "ti2v" in lowered:
        return FAMILIES["wan22_ti2v"]
    if "wan2.2" in lowered or "wan22" in lowered:
        return FAMILIES["wan22"]
    for key in ("ltx", "cogvideox"):
        if key in lowered:
            return FAMILIES[key]
    return FAMILIES["wan"]
