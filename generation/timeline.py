"""OpenTimelineIO export of a cut: one clip per take with its source range, and transitions.

In OTIO a transition does not add time: it blends the media just outside the clips' source
ranges. A d-frame crossfade therefore trims d/2 frames from the tail of the outgoing clip and
d/2 from the head of the incoming one (their handles), so the track lasts exactly as long as
the stitched cut.
"""

from __future__ import annotations

from pathlib import Path

from shots.cutlist import CutList


def write_otio(cut: CutList, path: Path, name: str) -> Path:
    """Write ``cut`` as an .otio timeline editors can open (Resolve, Premiere via adapters)."""
    import opentimelineio as otio

    rate = cut.fps
    timeline = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for p in cut.placements:
        if p.fade_in:
            half = otio.opentime.RationalTime(p.fade_in / 2, rate)
            track.append(otio.schema.Transition(name="crossfade", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=half, out_offset=half))
        media = otio.schema.ExternalReference(
            target_url=Path(p.item.path).resolve().as_uri(),
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(p.item.frames, rate)),
        )
        head, tail = p.fade_in / 2, p.item.fade_out / 2
        track.append(
            otio.schema.Clip(
                name=f"{p.item.shot} take {p.item.take}",
                media_reference=media,
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(head, rate),
                    otio.opentime.RationalTime(p.item.frames - head - tail, rate),
                ),
                metadata={"storyreel": {"shot": p.item.shot, "take": p.item.take, "record_start": p.start}},
            )
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(timeline, str(path))
    return path
