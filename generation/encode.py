"""Frames → H.264 MP4 (imageio-ffmpeg's binary through ffmpeg-python), PNGs, contact sheets.

Several ffmpeg failures exit 0 (FACTS.md), so every written file is read back and its frame
count compared with what was asked.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generation.frames import check_frames
from shots.files import follow_umask
from shots.errors import StitchError


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@contextmanager
def atomic_path(final: Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``final``, renamed onto it only if the block succeeds.

    A crash inside the block leaves no file at ``final`` (and removes the temporary one).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.stem}.", suffix=suffix or final.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        follow_umask(tmp_path)  # mkstemp makes it 0600
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg reads back from a video file."""

    frames: int
    fps: float
    width: int
    height: int
    duration: float
    has_audio: bool


def probe(path: Path) -> VideoInfo:
    """Frame count, fps, size, duration and audio presence of a video (there is no ffprobe)."""
    import imageio_ffmpeg

    if not Path(path).is_file():
        raise StitchError(f"{path} does not exist")
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    finally:
        reader.close()
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    width, height = meta["size"]
    return VideoInfo(
        frames=int(frames),
        fps=float(meta["fps"]),
        width=int(width),
        height=int(height),
        duration=float(meta.get("duration") or 0.0),
        has_audio=bool(meta.get("audio_codec")),
    )


def read_video(path: Path) -> np.ndarray:
    """Decode a video into uint8 (F, H, W, 3)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in reader]
    return np.stack(frames)


def encode_mp4(frames: np.ndarray, fps: float, path: Path, crf: int = 18, preset: str = "medium") -> VideoInfo:
    """Encode uint8 (F, H, W, 3) frames to H.264 yuv420p with +faststart, atomically.

    Odd sizes are padded to even (yuv420p needs it). The result is read back and its frame
    count checked.
    """
    import ffmpeg

    frames = check_frames(frames)
    count, height, width, _ = frames.shape
    pad_w, pad_h = width + width % 2, height + height % 2
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=fps)
    if (pad_w, pad_h) != (width, height):
        stream = stream.filter("pad", pad_w, pad_h, 0, 0)
    with atomic_path(Path(path)) as tmp:
        out = ffmpeg.output(
            stream,
            str(tmp),
            vcodec="libx264",
            pix_fmt="yuv420p",
            crf=crf,
            preset=preset,
            movflags="+faststart",
            r=fps,
            f="mp4",
        ).overwrite_output()
        argv = out.compile(cmd=ffmpeg_exe())
        try:
            out.run(cmd=ffmpeg_exe(), input=np.ascontiguousarray(frames).tobytes(), capture_stdout=True, capture_stderr=True)
        except ffmpeg.Error as exc:
            raise StitchError("encoding failed", argv=argv, stderr=exc.stderr.decode(errors="replace")) from None
        info = probe(tmp)
        if info.frames != count:
            raise StitchError(f"encoded {info.frames} frames, expected {count}", argv=argv)
    return info


def save_png(frame: np.ndarray, path: Path) -> None:
    """Write one uint8 (H, W, 3) frame as PNG, atomically."""
    with atomic_path(Path(path)) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")


def contact_sheet(frames: np.ndarray, label: str, cells: int = 9, columns: int = 3, min_cell: int = 128) -> np.ndarray:
    """Evenly spaced frames, the first and the last among them, in a grid with a caption strip
    (e.g. shot id and seed); each cell carries its frame number in white outlined in black,
    legible on any picture.

    Small frames are scaled up (nearest) to ``min_cell`` pixels wide so the sheet is legible.
    """
    frames = check_frames(frames)
    picks = np.linspace(0, len(frames) - 1, num=min(cells, len(frames))).round().astype(int)
    height, width = frames.shape[1:3]
    scale = max(1, -(-min_cell // width))
    cw, ch = width * scale, height * scale
    columns = min(columns, len(picks))
    rows = -(-len(picks) // columns)
    strip = 18
    sheet = Image.new("RGB", (cw * columns, ch * rows + strip), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(11, min(cw, ch) // 8))
    for n, index in enumerate(picks):
        cell = Image.fromarray(frames[index]).resize((cw, ch), Image.Resampling.NEAREST)
        x, y = (n % columns) * cw, strip + (n // columns) * ch
        sheet.paste(cell, (x, y))
        draw.text((x + 4, y + 3), str(index), fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    draw.text((4, 3), label, fill=(255, 255, 255))
    return np.asarray(sheet)
