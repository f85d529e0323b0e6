"""`storyreel validate` and `storyreel plan`: storyboards checked and shown without any model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from flows.cli.app import FileArg, JsonOpt, app, console, err_console
from shots.graph import ShotGraph, plan_storyboard
from shots.loading import load_storyboard


def _plan(file: Path) -> ShotGraph:
    return plan_storyboard(load_storyboard(file))


@app.command()
def validate(file: FileArg) -> None:
    """Check a storyboard; exit 2 with FILE:LINE and what is allowed when it is wrong."""
    graph = _plan(file)
    for shot in graph.shots:
        if shot.prompt.warning:
            err_console.print(f"[yellow]Warning:[/] {shot.id}: {escape(shot.prompt.warning)}")
    scenes = len({s.scene for s in graph.shots})
    console.print(
        f"[green]OK[/] {escape(str(file))}: {len(graph.shots)} shots in {scenes} scenes, "
        f"{len(graph.chains)} chains, {graph.total_frames} frames "
        f"({graph.total_frames / graph.shots[0].fps:.2f} s at {graph.shots[0].fps} fps)"
    )


def plan_rows(graph: ShotGraph) -> list[dict[str, Any]]:
    """One JSON-ready object per planned shot."""
    return [
        {
            "id": s.id,
            "scene": s.scene,
            "position": s.position,
            "chain": s.chain,
            "prompt": s.prompt.prompt,
            "negative_prompt": s.prompt.negative_prompt,
            "duration": s.duration,
            "frames": s.frames,
            "seconds": round(s.seconds, 4),
            "fps": s.fps,
            "width": s.width,
            "height": s.height,
            "steps": s.steps,
            "guidance": s.guidance,
            "seed": s.seed,
            "continuity": s.continuity,
            "conditioned_on": s.conditioned_on,
            "keyframe": s.keyframe,
            "reference": s.reference,
            "transition": {"crossfade": s.transition_seconds} if s.transition_seconds else "cut",
            "characters": list(s.characters),
            "prompt_tokens": s.prompt.tokens,
            "warning": s.prompt.warning,
        }
        for s in graph.shots
    ]


@app.command()
def plan(file: FileArg, as_json: JsonOpt = False) -> None:
    """Show the shots a storyboard becomes: frames, conditioning, characters, prompts."""
    graph = _plan(file)
    if as_json:
        print(json.dumps(plan_rows(graph), indent=2))
        return
    table = Table(title=f"{escape(str(file))} — model {escape(graph.model)}", show_lines=True)
    for column in ("shot", "scene", "frames", "continuity", "conditioned on", "characters", "prompt"):
        table.add_column(column, overflow="fold")
    for s in graph.shots:
        frames = f"{s.frames} ({s.duration:g} s → {s.seconds:.2f} s)"
        start = s.conditioned_on or f"[dim]{s.keyframe}[/]"
        transition = f"\n[cyan]crossfade {s.transition_seconds:g} s →[/]" if s.transition_seconds else ""
        table.add_row(
            s.id,
            escape(s.scene),
            frames,
            s.continuity + transition,
            start,
            escape(", ".join(s.characters)),
            escape(s.prompt.prompt),
        )
    console.print(table)
    console.print(
        f"{len(graph.shots)} shots, {len(graph.chains)} chains, "
        f"{graph.total_frames} frames in the cut at {graph.shots[0].fps} fps, "
        f"{graph.shots[0].width}×{graph.shots[0].height}"
    )
    for s in graph.shots:
        if s.prompt.warning:
            err_console.print(f"[yellow]Warning:[/] {s.id}: {escape(s.prompt.warning)}")
