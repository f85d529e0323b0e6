"""The cut list: which clip plays where, and how clips join. Pure arithmetic on frame counts.

A crossfade of d frames between clips k and k+1 overlaps them: clip k+1 starts d frames before
clip k ends, so the cut lasts Σ frames − Σ d frames, and the xfade offset of a join is the
start of the incoming clip (in frames, divided by fps for ffmpeg).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CutItem:
    """One clip of the cut.

    Attributes:
        shot: Shot id.
        take: Take number.
        path: The clip's file (absolute).
        frames: Frames in the clip.
        fade_out: Crossfade into the next clip, in frames (0 for a cut).
    """

    shot: str
    take: int
    path: str
    frames: int
    fade_out: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a clip sits in the cut, in frames of the output (``start`` inclusive)."""

    item: CutItem
    start: int
    fade_in: int

    @property
    def end(self) -> int:
        """First frame after the clip."""
        return self.start + self.item.frames


@dataclass(frozen=True)
class CutList:
    """Clips placed on one track at one frame rate."""

    placements: tuple[Placement, ...]
    fps: float

    @property
    def frames(self) -> int:
        """Frames of the whole cut: every clip minus every crossfade overlap."""
        return self.placements[-1].end if self.placements else 0

    @property
    def seconds(self) -> float:
        """Duration of the cut."""
        return self.frames / self.fps

    def as_entries(self) -> list[dict[str, object]]:
        """JSON-ready entries (shot, take, in/out frame within the clip, record start, transition)."""
        return [
            {
                "shot": p.item.shot,
                "take": p.item.take,
                "in": 0,
                "out": p.item.frames,
                "record_start": p.start,
                "transition_out": {"crossfade_frames": p.item.fade_out} if p.item.fade_out else "cut",
            }
            for p in self.placements
        ]


def build_cut_list(items: list[CutItem], fps: float) -> CutList:
    """Place ``items`` in order; raises ValueError for a crossfade longer than a clip it joins."""
    placements: list[Placement] = []
    position = 0
    fade_in = 0
    for index, item in enumerate(items):
        if item.frames <= 0:
            raise ValueError(f"shot {item.shot}: a clip needs frames, got {item.frames}")
        if item.fade_out:
            if index == len(items) - 1:
                raise ValueError(f"shot {item.shot}: the last clip cannot crossfade into nothing")
            following = items[index + 1].frames
            if item.fade_out >= min(item.frames - fade_in, following):
                raise ValueError(
                    f"shot {item.shot}: a {item.fade_out}-frame crossfade is longer than the clips it joins"
                )
        placements.append(Placement(item, position - fade_in, fade_in))
        position = position - fade_in + item.frames
        fade_in = item.fade_out
    return CutList(tuple(placements), fps)
