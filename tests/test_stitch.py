"""Stitching with the real ffmpeg: copy concat, crossfades, mixed sizes, audio bed, OTIO."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from generation.encode import encode_mp4, read_video
from generation.stitch import stitch
from generation.timeline import write_otio
from shots.cutlist import CutItem, build_cut_list
from shots.errors import StitchError


def _clip(path: Path, frames: int, color: tuple[int, int, int], size: tuple[int, int] = (64, 64), fps: int = 16) -> Path:
    h, w = size
    video = np.zeros((frames, h, w, 3), np.uint8)
    video[:] = color
    video[:, :, : (w // 4)] = 255  # a white band so the picture is not flat
    encode_mp4(video, fps, path)
    return path


def _wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    data = (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(data.tobytes())
    return path


def test_cut_list_arithmetic() -> None:
    cut = build_cut_list([CutItem("a", 1, "a", 33, fade_out=8), CutItem("b", 1, "b", 33), CutItem("c", 1, "c", 17)], 16)
    assert [p.start for p in cut.placements] == [0, 25, 58]
    assert cut.frames == 33 + 33 + 17 - 8
    with pytest.raises(ValueError, match="longer than the clips"):
        build_cut_list([CutItem("a", 1, "a", 9, fade_out=10), CutItem("b", 1, "b", 33)], 16)
    with pytest.raises(ValueError, match="last clip"):
        build_cut_list([CutItem("a", 1, "a", 9, fade_out=2)], 16)


def test_uniform_cuts_are_stream_copied(tmp_path: Path) -> None:
    items = [CutItem(k, 1, str(_clip(tmp_path / f"{k}.mp4", n, c)), n) for k, n, c in (("a", 17, (200, 0, 0)), ("b", 9, (0, 200, 0)))]
    info = stitch(build_cut_list(items, 16), tmp_path / "cut.mp4", 64, 64)
    assert (info.frames, info.fps) == (26, 16)
    frames = read_video(tmp_path / "cut.mp4")
    assert frames[16, 32, 40, 0] > 150 and frames[17, 32, 40, 1] > 150  # the cut is at frame 17


@pytest.mark.slow
def test_crossfade_mixed_sizes_and_audio_bed(tmp_path: Path) -> None:
    a = _clip(tmp_path / "a.mp4", 33, (200, 0, 0))
    b = _clip(tmp_path / "b.mp4", 17, (0, 0, 200), size=(48, 80))  # another size: normalised
    c = _clip(tmp_path / "c.mp4", 17, (0, 200, 0), fps=24)  # another frame rate
    # c: 17 frames at 24 fps last 11 frames at the cut's 16 fps
    items = [CutItem("a", 1, str(a), 33, fade_out=8), CutItem("b", 2, str(b), 17), CutItem("c", 1, str(c), 11)]
    with pytest.raises(StitchError, match="clip has 17 frames at 24 fps, the cut list says 17 at 16 fps"):
        stitch(build_cut_list(items[:2] + [CutItem("c", 1, str(c), 17)], 16), tmp_path / "x.mp4", 64, 64)
    cut = build_cut_list(items, 16)
    info = stitch(cut, tmp_path / "cut.mp4", 64, 64, audio=_wav(tmp_path / "bed.wav", 2.0))
    assert info.frames == 33 + 17 + 11 - 8 and info.fps == 16 and (info.width, info.height) == (64, 64)
    assert info.has_audio
    frames = read_video(tmp_path / "cut.mp4").astype(int)
    mid = frames[29, 32, 40]  # the middle of the 8-frame dissolve (frames 25..32) mixes red and blue
    assert 40 < mid[0] < 170 and 40 < mid[2] < 170
    assert frames[20, 32, 40, 0] > 150 and frames[36, 32, 40, 2] > 150 and frames[45, 32, 40, 1] > 150


def test_missing_input_is_refused_before_ffmpeg(tmp_path: Path) -> None:
    items = [CutItem("a", 1, str(tmp_path / "gone.mp4"), 9)]
    with pytest.raises(StitchError, match="does not exist"):
        stitch(build_cut_list(items, 16), tmp_path / "cut.mp4", 64, 64)
    assert not (tmp_path / "cut.mp4").exists()


def test_otio_timeline_reads_back(tmp_path: Path) -> None:
    import opentimelineio as otio

    items = [CutItem("a", 1, str(tmp_path / "a.mp4"), 33, fade_out=8), CutItem("b", 3, str(tmp_path / "b.mp4"), 17)]
    cut = build_cut_list(items, 16)
    write_otio(cut, tmp_path / "cut.otio", "demo")
    timeline = otio.adapters.read_from_file(str(tmp_path / "cut.otio"))
    track = timeline.tracks[0]
    clips = list(track.find_clips())
    assert [c.name for c in clips] == ["a take 1", "b take 3"]
    assert track.duration().to_frames() == cut.frames == 42
    (transition,) = [t for t in track if isinstance(t, otio.schema.Transition)]
    assert transition.in_offset.value + transition.out_offset.value == 8
    assert clips[1].media_reference.target_url.endswith("b.mp4")
    assert clips[1].metadata["storyreel"]["take"] == 3
