"""Assembling the cut from chosen takes: MP4 (ffmpeg) and optionally an OTIO timeline."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from flows.settings import AppSettings
from flows.store import transaction
from generation.stitch import stitch, timeline_frames
from generation.timeline import write_otio
from shots.checks import resolve_asset
from shots.cutlist import CutItem, build_cut_list
from shots.errors import Conflict
from shots.graph import plan_storyboard
from shots.models import Storyboard
from storage.repo import add_cut, get_project, is_current, live_shots
from storage.schema import Cut, Shot, StoryboardVersion

APPROVED_REASONS = ("passed", "approved", "kept_previous")


@dataclass(frozen=True)
class CutResult:
    """An exported cut."""

    path: Path
    otio: Path | None
    frames: int
    fps: float
    seconds: float
    shots: list[str]
    skipped: list[str]
    has_audio: bool


def lacking(shot: Shot) -> str | None:
    """Why a shot cannot go into a cut without ``--allow-unapproved`` (None when it can)."""
    if shot.status == "rejected":
        return "rejected"
    if shot.chosen_take is None:
        return "no chosen take"
    if not is_current(shot):
        return f"stale ({shot.stale_reason or 'inputs changed'})"
    if shot.status != "approved" and shot.chosen_take.chosen_reason not in APPROVED_REASONS:
        return "chosen take failed its checks and is not approved"
    return None


def export_cut(
    settings: AppSettings,
    name: str,
    out: Path | None = None,
    otio: Path | None = None,
    allow_unapproved: bool = False,
) -> CutResult:
    """Stitch the project's chosen takes; record a `Cut` row.

    Raises:
        Conflict: Some shots lack an approved/chosen take (listed), unless allowed.
    """
    engine = settings.database()
    store = settings.artifacts()
    with transaction(engine) as session:
        project = get_project(session, name)
        version = session.scalar(
            select(StoryboardVersion).where(StoryboardVersion.project_id == project.id).order_by(StoryboardVersion.number.desc())
        )
        board = Storyboard.model_validate(version.parsed)
        graph = plan_storyboard(board)
        shots = live_shots(session, project)
        problems = {s.key: why for s in shots if (why := lacking(s))}
        if problems and not allow_unapproved:
            listed = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise Conflict(f"cannot export {name!r}: {len(problems)} shots lack an approved/chosen take — {listed}. "
                           "Render or approve them, or pass --allow-unapproved")
        usable = [s for s in shots if s.chosen_take is not None]
        skipped = [s.key for s in shots if s not in usable]
        if not usable:
            raise Conflict(f"cannot export {name!r}: no shot has a chosen take yet")
        fps = float(graph.shots[0].fps)
        items = []
        for index, shot in enumerate(usable):
            take = shot.chosen_take
            fade = 0
            if index < len(usable) - 1:
                planned = next((p for p in graph.shots if p.id == shot.key), None)
                fade = round(planned.transition_seconds * fps) if planned else 0
            media = store.checked_path(take.media_path, take.media_sha256, f"take {take.attempt} of shot {shot.key}")
            items.append(CutItem(shot.key, take.attempt, str(media), timeline_frames(take.frame_count, take.fps, fps), fade))
        cut = build_cut_list(items, fps)
        number = len(session.scalars(select(Cut.id).where(Cut.project_id == project.id)).all()) + 1
        relative = store.cut_file(name, f"cut-{number:03d}.mp4")
        audio = None
        if board.settings.audio:
            audio = resolve_asset(Path(project.storyboard_path).parent, board.settings.audio)
        width, height = graph.shots[0].width, graph.shots[0].height
        staged = store.staging(name) / f"cut-{number:03d}.mp4"
        info = stitch(cut, staged, width, height, audio=audio)
        digest = store.put(staged, relative)
        otio_path = write_otio(cut, otio, name) if otio else None
        add_cut(
            session,
            project,
            output_path=relative,
            sha256=digest,
            entries=cut.as_entries(),
            settings={"fps": fps, "width": width, "height": height, "audio": board.settings.audio, "allow_unapproved": allow_unapproved},
            frames=info.frames,
            duration=cut.seconds,
            otio_path=str(otio_path) if otio_path else None,
        )
    final = store.path(relative)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final, out)
        final = Path(out)
    return CutResult(final, otio_path, info.frames, fps, cut.seconds, [s.key for s in usable], skipped, info.has_audio)
