"""The shot graph: resolved render parameters per shot, conditioning links and chains.

A *chain* is a maximal run of shots joined by ``continue``: its first shot starts from a
keyframe (reference image, text-to-image, the model's text-to-video mode, or — for a family
with none of those — a neutral frame) and every later shot is conditioned on the previous
shot's chosen take. Chains are independent of each other
and may render in parallel; a change inside a chain makes every later shot of it stale.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

from shots.families import FamilySpec, default_t2i, spec_for_model
from shots.looks import shot_looks
from shots.models import Crossfade, Storyboard
from shots.prompts import ComposedPrompt, compose_prompt, prompt_names, shot_loras

SEED_STRIDE = 1_000_003
START_FRAMES = {
    "previous": "previous take",
    "reference": "reference",
    "t2i": "keyframe",
    "t2v": "text-to-video",
    "neutral": "neutral frame",
}
"""Where a shot's first frame comes from, as `plan` names it."""


def take_seed(base_seed: int, attempt: int) -> int:
    """Seed of take ``attempt`` (0-based) in a shot's deterministic seed schedule."""
    return (base_seed + attempt * SEED_STRIDE) % 2**32


@dataclass(frozen=True)
class PlannedShot:
    """One shot with everything resolved that determines its pixels (but its input frame)."""

    id: str
    scene: str
    position: int
    chain: int
    continuity: str
    conditioned_on: str | None
    keyframe: str  # "previous", "reference", "t2i", "t2v" or "neutral" (see `START_FRAMES`)
    reference: str | None
    characters: tuple[str, ...]
    prompt: ComposedPrompt
    duration: float
    frames: int  # frames of the take: what the cut plays
    fps: int
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    transition_seconds: float  # crossfade into the next shot; 0 for a cut
    thresholds: dict[str, float | None]
    context: int = 0  # K: frames of the previous take a `continue` shot is given (0 for a cut)
    pipeline_frames: int = 0  # frames the pipeline renders: the take's, plus the context it repeats
    end_frame: str | None = None  # an image path in the storyboard's folder, or "next"
    loras: tuple[tuple[str, float], ...] = ()  # (path, scale), in the order they apply
    scheduler: tuple[str, float | None] | None = None  # (name, flow shift); None: the model's own
    looks: tuple[tuple[str, str], ...] = ()  # (character, look key) where a later look is in force

    @property
    def repeated(self) -> int:
        """Frames of the pipeline's output that repeat the previous take (left out of the take)."""
        return self.pipeline_frames - self.frames

    @property
    def seconds(self) -> float:
        """Length of the rendered clip."""
        return self.frames / self.fps

    def render_params(self) -> dict[str, object]:
        """The parameters stored with the shot and hashed into its input hash (a parameter at
        its old default is left out, so shots planned before it existed stay current)."""
        params: dict[str, object] = {
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "fps": self.fps,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "keyframe": self.keyframe,
            "reference": self.reference,
        }
        if self.repeated or self.context > 1:
            params.update(context=self.context, pipeline_frames=self.pipeline_frames)
        if self.end_frame:
            params["end_frame"] = self.end_frame
        if self.loras:
            params["loras"] = [list(lora) for lora in self.loras]
        if self.scheduler:
            params["scheduler"] = list(self.scheduler)
        return params


@dataclass(frozen=True)
class ShotGraph:
    """Planned shots in story order and the chains they form."""

    shots: tuple[PlannedShot, ...]
    chains: tuple[tuple[str, ...], ...]
    model: str
    spec: FamilySpec

    def shot(self, shot_id: str) -> PlannedShot:
        """The planned shot with this id (KeyError when absent)."""
        return self._index[shot_id]

    @functools.cached_property
    def _index(self) -> dict[str, PlannedShot]:
        return {shot.id: shot for shot in self.shots}

    def downstream(self, shot_id: str) -> list[str]:
        """Shots after ``shot_id`` in its chain, nearest first."""
        shot = self.shot(shot_id)
        chain = self.chains[shot.chain]
        return list(chain[chain.index(shot_id) + 1 :])

    @property
    def total_frames(self) -> int:
        """Frames of the whole cut: every shot, minus the overlap of each crossfade."""
        overlap = sum(round(s.transition_seconds * s.fps) for s in self.shots)
        return sum(s.frames for s in self.shots) - overlap


def plan_storyboard(board: Storyboard, spec: FamilySpec | None = None) -> ShotGraph:
    """Resolve every shot of a validated storyboard into a `ShotGraph`."""
    settings = board.settings
    spec = spec or spec_for_model(settings.model)
    fps = settings.fps or spec.default_fps
    width = settings.width or spec.default_width
    height = settings.height or spec.default_height
    t2i = default_t2i(settings.model, settings.t2i_model)
    names = prompt_names(board)
    planned: list[PlannedShot] = []
    chains: list[list[str]] = []
    previous: str | None = None
    for position, (scene, shot) in enumerate(board.shot_list()):
        first_of_scene = scene.shots[0] is shot
        continuity = shot.continuity or ("cut" if first_of_scene else "continue")
        if continuity == "cut" or previous is None:
            continuity = "cut"
            chains.append([])
        chains[-1].append(shot.id)
        looks = shot_looks(board, shot)
        reference = shot.reference or next((looks[c].reference for c in shot.characters if looks[c].reference), None)
        if continuity == "continue":
            keyframe, reference = "previous", None
        elif reference:
            keyframe = "reference"
        elif t2i:
            keyframe = "t2i"
        else:
            keyframe = "t2v" if spec.text_to_video else "neutral"
        thresholds = {**settings.thresholds, **shot.thresholds}
        transition = shot.transition.crossfade if isinstance(shot.transition, Crossfade) else 0.0
        context = (settings.context_frames or spec.default_context) if continuity == "continue" else 0
        if continuity == "continue":
            pipeline_frames, frames = spec.continued_frames(shot.duration, fps, context)
        else:
            pipeline_frames = frames = spec.frames_for(shot.duration, fps)
        planned.append(
            PlannedShot(
                id=shot.id,
                scene=scene.id,
                position=position,
                chain=len(chains) - 1,
                continuity=continuity,
                conditioned_on=previous if continuity == "continue" else None,
                keyframe=keyframe,
                reference=reference,
                characters=shot.characters,
                prompt=compose_prompt(board, shot, spec.text_tokens, names, looks),
                duration=shot.duration,
                frames=frames,
                fps=fps,
                width=width,
                height=height,
                steps=shot.steps or settings.steps,
                guidance=shot.guidance if shot.guidance is not None else settings.guidance,
                seed=shot.seed if shot.seed is not None else (settings.seed + zlib.crc32(shot.id.encode())) % 2**32,
                transition_seconds=transition,
                thresholds=thresholds,
                context=context,
                pipeline_frames=pipeline_frames,
                end_frame=shot.end_frame,
                loras=tuple((lora.path, lora.scale) for lora in shot_loras(board, shot)),
                scheduler=(settings.scheduler, settings.flow_shift) if settings.scheduler else None,
                looks=tuple((c, look.key) for c, look in looks.items() if look.key != "base"),
            )
        )
        previous = shot.id
    return ShotGraph(tuple(planned), tuple(tuple(c) for c in chains), settings.model, spec)
