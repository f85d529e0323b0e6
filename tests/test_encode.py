"""MP4 encoding with the real ffmpeg binary, PNGs, contact sheets, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generation.encode import (
    atomic_path,
    contact_sheet,
    encode_mp4,
    probe,
    read_video,
    save_png,
)


def _clip(frames: int = 17, h: int = 48, w: int = 64) -> np.ndarray:
    t = np.arange(frames)[:, None, None, None]
    x = np.arange(w)[None, None, :, None]
    return ((x * 4 + t * 10) % 256).astype(np.uint8).repeat(3, axis=3).repeat(h, axis=1)


@pytest.mark.parametrize("fps", [16, 24])
def test_mp4_has_the_frames_and_fps_asked(tmp_path: Path, fps: int) -> None:
    info = encode_mp4(_clip(), fps, tmp_path / "a.mp4")
    assert (info.frames, info.fps, info.width, info.height) == (17, fps, 64, 48)
    assert probe(tmp_path / "a.mp4") == info
    decoded = read_video(tmp_path / "a.mp4")
    assert decoded.shape == (17, 48, 64, 3)
    assert np.abs(decoded.astype(int) - _clip().astype(int)).mean() < 6  # crf 18 is near-lossless
    assert not info.has_audio
    with open(tmp_path / "a.mp4", "rb") as handle:
        head = handle.read(64)
    assert b"moov" in head or head[4:8] == b"ftyp"  # +faststart keeps moov up front


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    info = encode_mp4(_clip(5, 33, 35), 16, tmp_path / "odd.mp4")
    assert (info.width, info.height, info.frames) == (36, 34, 5)


def test_bad_frames_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(_clip().astype(np.float32), 16, tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="empty"):
        encode_mp4(np.zeros((0, 8, 8, 3), np.uint8), 16, tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())


def test_atomic_write_leaves_nothing_after_a_crash(tmp_path: Path) -> None:
    target = tmp_path / "take.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed between write and rename")
    assert list(tmp_path.iterdir()) == []
    save_png(_clip()[0], target)
    assert [p.name for p in tmp_path.iterdir()] == ["take.png"]


def test_contact_sheet_grid() -> None:
    sheet = contact_sheet(_clip(49), "s01 seed 7")
    # 9 cells in 3 columns, 64-px frames scaled ×2 to ≥128 px, plus an 18-px caption strip
    assert sheet.shape == (3 * 96 + 18, 3 * 128, 3)
    assert sheet[:18].max() > 200  # the caption is drawn
    assert not np.array_equal(sheet[:18], contact_sheet(_clip(49), "s02 seed 8")[:18])


def test_contact_sheet_shows_first_and_last_and_legible_numbers() -> None:
    clip = np.zeros((9, 32, 32, 3), np.uint8)
    clip[:] = (255, 230, 0)  # a yellow scene: yellow numbers once vanished on it
    for i in range(9):
        clip[i, 24:, :, 0] = i * 20  # frame i's own mark in a corner the number does not cover
    sheet = contact_sheet(clip, "yellow")
    cells = [sheet[18 + r * 128 : 18 + (r + 1) * 128, c * 128 : (c + 1) * 128] for r in range(3) for c in range(3)]
    assert [int(cell[-4, -4, 0]) for cell in cells] == [i * 20 for i in range(9)]  # all 9 frames, in order
    corner = cells[0][:30, :30].reshape(-1, 3)
    dark = (corner.max(axis=1) < 60).mean()
    bright = (corner.min(axis=1) > 200).mean()  # white strokes (yellow has blue 0)
    assert dark > 0.02 and bright > 0.02  # an outlined number, not yellow on yellow
