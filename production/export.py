"""Assembling the cut from chosen takes: MP4 (ffmpeg) and optionally an OTIO timeline.

A cut's number is allocated by inserting its row (unique per project) before any file is
written; the MP4 is stitched into the writer's staging folder and renamed into
``cuts/cut-NNN.mp4`` only after that row exists, then the row is finished. Two exports at
once make two cuts with two files, never one file for two rows.
"""

from __future__ import annotations

import contextlib

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from production.config import AppSettings
from production.store import transaction
from generation.stitch import stitch, timeline_frames
from generation.timeline import write_otio
from shots.checks import resolve_asset
from shots.cutlist import CutItem, build_cut_list
from shots.errors import ConfigError, Conflict
from shots.graph import plan_storyboard
from shots.models import Storyboard
from storage.leases import Holder
from storage.repo import allocate_cut, finish_cut, get_project, is_current, latest_cut, latest_version, live_shots
from storage.schema import Cut, Shot

APPROVED_REASONS = ("passed", "approved", "kept_previous")


@dataclass(frozen=True)
class CutResult:
    """An exported cut (``unchanged``: the latest cut already is this one; nothing was written)."""

    path: Path
    otio: Path | None
    frames: int
    fps: float
    seconds: float
    shots: list[str]
    skipped: list[str]
    has_audio: bool
    number: int = 0
    unchanged: bool = False


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


@dataclass(frozen=True)
class _Plan:
    """What a cut of the project is made of right now."""

    items: list[CutItem]
    skipped: list[str]
    settings: dict[str, Any]
    audio: Path | None


def _plan_cut(settings: AppSettings, session: Any, name: str, allow_unapproved: bool) -> _Plan:
    store = settings.artifacts()
    project = get_project(session, name)
    version = latest_version(session, project.id)
    board = Storyboard.model_validate(version.parsed)
    graph = plan_storyboard(board)
    shots = live_shots(session, project)
    problems = {s.key: why for s in shots if (why := lacking(s))}
    if problems and not allow_unapproved:
        listed = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Conflict(f"cannot export {name!r}: {len(problems)} shots lack an approved/chosen take — {listed}. "
                       "Render or approve them, or pass --allow-unapproved")
    usable = [s for s in shots if s.chosen_take is not None]
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
    audio = resolve_asset(Path(project.storyboard_path).parent, board.settings.audio) if board.settings.audio else None
    width, height = graph.shots[0].width, graph.shots[0].height
    cut_settings = {"fps": fps, "width": width, "height": height, "audio": board.settings.audio, "allow_unapproved": allow_unapproved}
    return _Plan(items, [s.key for s in shots if s not in usable], cut_settings, audio)


def _same(cut: Cut, entries: list[dict[str, Any]], cut_settings: dict[str, Any]) -> bool:
    keep = ("fps", "width", "height", "audio")
    return cut.entries == entries and {k: cut.settings.get(k) for k in keep} == {k: cut_settings[k] for k in keep}


def _result(settings: AppSettings, cut: Cut, plan: _Plan, otio: Path | None, unchanged: bool, has_audio: bool) -> CutResult:
    fps = plan.settings["fps"]
    return CutResult(settings.artifacts().path(cut.output_path), otio, cut.frames, fps, cut.frames / fps,
                     [i.shot for i in plan.items], plan.skipped, has_audio, cut.number, unchanged)


def export_cut(
    settings: AppSettings,
    name: str,
    out: Path | None = None,
    otio: Path | None = None,
    allow_unapproved: bool = False,
    owner: Holder | None = None,
    reuse: bool = False,
    force: bool = False,
) -> CutResult:
    """Stitch the project's chosen takes; record a `Cut` row.

    Args:
        owner: The lease holder writing it (its staging folder; a crash leaves a ``writing``
            row that recovery marks failed).
        reuse: When the newest cut already has exactly these takes and settings, return it
            instead of writing the same cut again (an unchanged render writes no new cut).
        force: Overwrite existing files at ``out`` / ``otio`` (refused otherwise).

    Raises:
        Conflict: Some shots lack an approved/chosen take (listed), unless allowed.
        ConfigError: ``out`` or ``otio`` exists and ``force`` is not given.
    """
    for path in (out, otio):
        if path is not None and Path(path).exists() and not force:
            raise ConfigError(f"{path} exists; storyreel does not overwrite files it did not make (add --force)")
    owner = owner or Holder.here()
    engine = settings.database()
    store = settings.artifacts()
    # 1. what the cut is made of; reuse the newest cut when it is exactly that
    with transaction(engine) as session:
        plan = _plan_cut(settings, session, name, allow_unapproved)
        cut_list = build_cut_list(plan.items, plan.settings["fps"])
        entries = cut_list.as_entries()
        newest = latest_cut(session, get_project(session, name))
        if reuse and newest is not None and _same(newest, entries, plan.settings):
            if store.verify(newest.output_path, newest.sha256) == "ok":
                otio_path = write_otio(cut_list, otio, name) if otio else None
                return _copy_out(_result(settings, newest, plan, otio_path, True, bool(newest.settings.get("audio"))), out)
        # 2. the row first: its number names the file
        cut = allocate_cut(session, get_project(session, name), owner.token, output_path="", entries=entries,
                           settings=plan.settings, frames=cut_list.frames, duration=cut_list.seconds)
        cut.output_path = store.cut_file(name, f"cut-{cut.number:03d}.mp4")
        cut_id, relative = cut.id, cut.output_path
    # 3. the file, in this writer's staging folder, renamed into place once stitched
    staged = store.staging(name, owner.token) / Path(relative).name
    try:
        info = stitch(cut_list, staged, plan.settings["width"], plan.settings["height"], audio=plan.audio)
        digest = store.put(staged, relative)
    except BaseException:
        staged.unlink(missing_ok=True)
        with transaction(engine) as session:
            session.get(Cut, cut_id).status = "failed"
        raise
    finally:
        for folder in (staged.parent, staged.parent.parent):  # this writer's staging folder, once empty
            with contextlib.suppress(OSError):
                folder.rmdir()
    otio_path = write_otio(cut_list, otio, name) if otio else None
    with transaction(engine) as session:
        cut = session.get(Cut, cut_id)
        finish_cut(cut, digest, info.frames)
        cut.otio_path = str(otio_path) if otio_path else None
    return _copy_out(_result(settings, cut, plan, otio_path, False, info.has_audio), out)


def _copy_out(result: CutResult, out: Path | None) -> CutResult:
    if out is None:
        return result
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.copyfile(result.path, tmp)
    os.replace(tmp, out)
    return CutResult(out, result.otio, result.frames, result.fps, result.seconds, result.shots, result.skipped,
                     result.has_audio, result.number, result.unchanged)
