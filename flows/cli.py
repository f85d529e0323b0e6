"""The `storyreel` command line. Heavy imports (torch, Prefect) happen inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli_app import FileArg, JsonOpt, app, console, err_console
from shots.errors import ConfigError, StoryreelError
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


# Command modules register on `app` when imported; after validate/plan so --help lists those first.
from flows import cli_render, cli_review, cli_server, cli_store, cli_worker  # noqa: E402, F401

models_app = typer.Typer(help="Build and inspect models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_model(
    directory: Annotated[Path, typer.Argument(help="Where to save the pipeline.")],
    family: Annotated[str, typer.Option(help="wan, wan22, wan22_ti2v, ltx, cogvideox or pixart (text-to-image).")] = "wan",
    random: Annotated[bool, typer.Option("--random", help="Random weights (paint noise; for tests).")] = False,
) -> None:
    """Save a tiny pipeline: the trained demo model (wan), or random weights with --random.

    Saved as ``<home>/models/tiny-wan-i2v`` it replaces the embedded model for ``model: tiny``.
    """
    from generation.tiny import BUILDERS, make_tiny, trained_model

    if family not in BUILDERS:
        raise ConfigError(f"family {family!r} is not allowed; use {', '.join(BUILDERS)}")
    trained = trained_model() if family == "wan" else None
    if not random and trained is None:
        what = "this installation has no trained demo model" if family == "wan" else f"only wan is trained, not {family}"
        raise ConfigError(f"{what}; add --random for random weights (or run make train-demo-models)")
    if random:
        path = make_tiny(directory, family)
    else:
        import shutil

        if directory.exists():
            shutil.rmtree(directory)
        path = Path(shutil.copytree(trained, directory))
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    kind = "random" if random else "trained"
    console.print(f"Saved tiny {kind} {family} pipeline to {escape(str(path))} ({size / 1024:.0f} KiB)")


def main() -> None:
    """Console-script entry point: storyreel errors become one red line and an exit code."""
    try:
        app()
    except StoryreelError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
