"""Stitching takes into a cut with ffmpeg (imageio-ffmpeg's binary, via ffmpeg-python).

Uniform clips joined by cuts are stream-copied with the concat demuxer. Anything else —
crossfades, mixed sizes or frame rates, an audio bed — goes through one filter graph: each
clip is normalised (scale + pad, setsar=1, fps, yuv420p, settb=AVTB), joined by ``xfade`` or
``concat`` with offsets from exact frame counts, and the audio bed is trimmed/padded to the
cut and faded. Inputs are verified before and the output frame count after, because several
ffmpeg failures exit 0.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from generation.encode import VideoInfo, atomic_path, ffmpeg_exe, probe
from shots.cutlist import CutList
from shots.errors import StitchError

AUDIO_FADE = 0.5


def _verify_inputs(cut: CutList) -> list[VideoInfo]:
    infos = []
    for p in cut.placements:
        info = probe(Path(p.item.path)) if Path(p.item.path).is_file() else None
        if info is None:
            raise StitchError(f"shot {p.item.shot}: clip {p.item.path} does not exist")
        if timeline_frames(info.frames, info.fps, cut.fps) != p.item.frames:
            raise StitchError(
                f"shot {p.item.shot}: clip has {info.frames} frames at {info.fps:g} fps, "
                f"the cut list says {p.item.frames} at {cut.fps:g} fps"
            )
        infos.append(info)
    return infos


def timeline_frames(frames: int, clip_fps: float, cut_fps: float) -> int:
    """How many frames a clip lasts once ffmpeg's fps filter resamples it to the cut's rate."""
    return frames if clip_fps == cut_fps else round(frames * cut_fps / clip_fps)


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StitchError("ffmpeg failed while stitching", argv=argv, stderr=proc.stderr)


def stitch(
    cut: CutList,
    output: Path,
    width: int,
    height: int,
    audio: Path | None = None,
) -> VideoInfo:
    """Write the cut to ``output`` (atomically) and check it has ``cut.frames`` frames."""
    import ffmpeg

    if not cut.placements:
        raise StitchError("nothing to stitch: the cut is empty")
    if audio is not None and not Path(audio).is_file():
        raise StitchError(f"audio bed {audio} does not exist")
    infos = _verify_inputs(cut)
    width, height = width + width % 2, height + height % 2
    uniform = all((i.width, i.height, i.fps) == (width, height, cut.fps) for i in infos)
    crossfades = any(p.item.fade_out for p in cut.placements)
    with atomic_path(Path(output)) as tmp:
        if uniform and not crossfades and audio is None:
            listing = tmp.with_suffix(".txt")
            listing.write_text("".join(f"file '{Path(p.item.path).resolve()}'\n" for p in cut.placements))
            argv = [ffmpeg_exe(), "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(tmp)]
            try:
                _run(argv)
            finally:
                listing.unlink(missing_ok=True)
        else:
            streams = []
            for p in cut.placements:
                v = ffmpeg.input(p.item.path).video
                v = v.filter("scale", width, height, force_original_aspect_ratio="decrease")
                v = v.filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2").filter("setsar", 1)
                v = v.filter("fps", fps=cut.fps).filter("format", "yuv420p").filter("settb", "AVTB")
                streams.append(v)
            video = streams[0]
            for p, nxt in zip(cut.placements[1:], streams[1:]):
                if p.fade_in:
                    video = ffmpeg.filter([video, nxt], "xfade", transition="fade", duration=p.fade_in / cut.fps, offset=p.start / cut.fps)
                else:
                    video = ffmpeg.filter([video, nxt], "concat", n=2, v=1, a=0)
            outputs = [video]
            kwargs: dict[str, object] = {"vcodec": "libx264", "pix_fmt": "yuv420p", "crf": 18, "movflags": "+faststart", "r": cut.fps, "f": "mp4"}
            if audio is not None:
                seconds = cut.seconds
                a = ffmpeg.input(str(audio)).audio
                a = a.filter("apad", whole_dur=seconds).filter("atrim", 0, seconds).filter("asetpts", "PTS-STARTPTS")
                a = a.filter("afade", t="in", d=min(AUDIO_FADE, seconds / 4))
                a = a.filter("afade", t="out", st=max(0.0, seconds - AUDIO_FADE), d=min(AUDIO_FADE, seconds / 4))
                outputs.append(a)
                kwargs.update(acodec="aac", audio_bitrate="128k")
            out = ffmpeg.output(*outputs, str(tmp), **kwargs).overwrite_output()
            _run(out.compile(cmd=ffmpeg_exe()))
        info = probe(tmp)
        if info.frames != cut.frames:
            raise StitchError(f"the cut has {info.frames} frames, expected {cut.frames}")
        if audio is not None and not info.has_audio:
            raise StitchError("the cut has no audio stream although an audio bed was given")
    return info
