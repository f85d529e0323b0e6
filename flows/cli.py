"""The `storyreel` command line. Heavy imports (torch, Prefect) happen inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shots.errors import ConfigError, StoryreelError
from shots.graph import ShotGraph, plan_storyboard
from shots.loading import load_storyboard
from flows.settings import AppSettings, load_settings

app = typer.Typer(
    name="storyreel",
    help="Multi-shot storyboard → AI video: plan, render, score, review and cut.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="Storyboard: .yaml, .fountain or .csv")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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


HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Projects and media (default $STORYREEL_HOME or ./projects).")
]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Project name (default: the storyboard's folder).")]


def _settings(home: Path | None) -> AppSettings:
    return load_settings(home)


STATE_STYLE = {"new": "green", "stale": "yellow", "unchanged": "dim", "removed": "red"}


@app.command("submit")
def submit_command(file: FileArg, project: ProjectOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Record a storyboard (new project or new version) without rendering; show what changed."""
    from flows.store import submit_file

    name, _, _, changes = submit_file(_settings(home), file, project)
    if as_json:
        print(json.dumps([c.as_dict() for c in changes], indent=2))
        return
    table = Table(title=f"project {escape(name)}")
    for column in ("shot", "state", "reason"):
        table.add_column(column)
    for c in changes:
        style = STATE_STYLE.get(c.state, "")
        table.add_row(c.id, f"[{style}]{c.state}[/]", escape(c.reason or ""))
    console.print(table)


@app.command("status")
def status_command(project: Annotated[str, typer.Argument(help="Project name.")], home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every shot of a project: status, chosen take, scores, staleness, takes, GPU seconds."""
    from flows.store import project_status

    rows = project_status(_settings(home), project)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"project {escape(project)}")
    for column in ("shot", "scene", "status", "take", "scores", "takes", "GPU s", "media / stale reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        scores = " ".join(
            f"[{'green' if v['passed'] else 'red' if v['passed'] is False else 'dim'}]{k} {v['value']:.2f}[/]"
            for k, v in r["scores"].items()
        )
        note = r["stale_reason"] if r["stale"] else (r["media"] if r["media"] not in (None, "ok") else "")
        take = f"{r['chosen_take']} (seed {r['chosen_seed']})" if r["chosen_take"] else "—"
        table.add_row(r["id"], escape(r["scene"]), r["status"], take, scores, str(r["takes"]), f"{r['gpu_seconds']:.1f}", escape(note or ""))
    console.print(table)


@app.command("projects")
def projects_command(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List projects."""
    from flows.store import transaction
    from storage.db import open_database
    from storage.repo import list_projects, live_shots

    engine = open_database(_settings(home).database_url)
    with transaction(engine) as session:
        rows = [
            {"name": p.name, "storyboard": p.storyboard_path, "shots": len(live_shots(session, p)), "versions": len(p.versions), "updated": p.updated_at.isoformat()}
            for p in list_projects(session)
        ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in ("project", "shots", "versions", "storyboard"):
        table.add_column(column)
    for r in rows:
        table.add_row(escape(r["name"]), str(r["shots"]), str(r["versions"]), escape(r["storyboard"]))
    console.print(table)


def _prefect_env() -> None:
    """Quiet, offline-friendly Prefect defaults (the user's environment wins)."""
    import os

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _run_render(job: Any, total: int, as_json: bool) -> dict[str, Any]:
    """Run the render flow with terminal progress; returns its summary, raising on failure."""
    _prefect_env()
    from flows import progress
    from flows.render_flow import render_flow
    from shots.errors import GenerationError

    sink = progress.ProgressSink(total, None)
    progress.install(sink)
    try:
        if as_json:
            state = render_flow(job, return_state=True)
        else:
            with sink.progress:
                state = render_flow(job, return_state=True)
    finally:
        progress.install(None)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):
        raise GenerationError(f"render failed: {state.message or summary}")
    if not state.is_completed():
        summary["failed"] = state.message
    return summary


def _render_and_report(settings: AppSettings, job: Any, total: int, as_json: bool) -> None:
    """Run the flow, print its summary (table or JSON), exit 1 when a shot failed."""
    from shots.errors import GenerationError

    summary = _run_render(job, total, as_json)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(settings, summary)
    if summary.get("failed"):
        raise GenerationError(summary["failed"])


def _print_summary(settings: AppSettings, summary: dict[str, Any]) -> None:
    from flows.store import project_status

    rows = {r["id"]: r for r in project_status(settings, summary["project"])}
    table = Table(title=f"project {escape(summary['project'])}")
    for column in ("shot", "status", "take", "takes", "scores", "seconds"):
        table.add_column(column, overflow="fold")
    for r in rows.values():
        scores = " ".join(
            f"[{'green' if v['passed'] else 'red' if v['passed'] is False else 'dim'}]{k} {v['value']:.2f}[/]"
            for k, v in r["scores"].items()
        )
        take = f"{r['chosen_take']} ({'passed' if r['passed'] else 'best'})" if r["chosen_take"] else "—"
        table.add_row(r["id"], r["status"], take, str(r["takes"]), scores, f"{r['gpu_seconds']:.1f}")
    console.print(table)
    stale = summary.get("stale_downstream")
    if stale:
        console.print("[yellow]Now stale downstream[/] (estimated render seconds): " + ", ".join(f"{k} ~{v:.1f} s" for k, v in stale.items()))
    if summary.get("cut"):
        cut = summary["cut"]
        console.print(f"[bold green]Cut:[/] {escape(cut['path'])} — {cut['frames']} frames, {cut['seconds']:.2f} s at {cut['fps']:g} fps")
    elif summary.get("not_in_cut"):
        console.print(
            f"[yellow]No new cut:[/] {', '.join(summary['not_in_cut'])} have no current take. "
            f"Run `storyreel render` to render them, or `storyreel export {escape(summary['project'])} --allow-unapproved`."
        )


@app.command("render")
def render_command(
    file: FileArg,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Override settings.model (tiny or a diffusers dir).")] = None,
    no_review: Annotated[bool, typer.Option("--no-review", help="Do not pause for review (the default without a Prefect server).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Render every pending or stale shot (re-rolling failures), then stitch the cut."""
    from flows.context import RenderJob
    from flows.store import project_name

    settings = _settings(home)
    board = load_storyboard(file)  # bad input fails here, before any model work
    name = project_name(file, project)
    job = RenderJob(storyboard=str(file.resolve()), project=name, home=str(settings.home), database_url=settings.database_url, model=model)
    _render_and_report(settings, job, len(board.shot_list()), as_json)


@app.command("rerender")
def rerender_command(
    project: Annotated[str, typer.Argument(help="Project name.")],
    shot: Annotated[str, typer.Argument(help="Shot id.")],
    seed: Annotated[int | None, typer.Option(help="Seed for the new take (default: the next unused one).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Prompt for this take instead of the composed one.")] = None,
    cascade: Annotated[bool, typer.Option("--cascade", help="Also re-render the shots after it in its chain.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a new take of one shot; shots after it in its chain become stale (or re-render with --cascade)."""
    from flows.context import RenderJob
    from flows.store import transaction
    from storage.db import open_database
    from storage.repo import get_project, get_shot

    settings = _settings(home)
    with transaction(open_database(settings.database_url)) as session:
        record = get_project(session, project)
        get_shot(session, record, shot)
        storyboard = record.storyboard_path
    if seed is not None and not 0 <= seed < 2**32:
        raise ConfigError(f"--seed {seed} is not allowed; use 0 … 4294967295")
    job = RenderJob(storyboard=storyboard, project=project, home=str(settings.home), database_url=settings.database_url,
                    only=(shot,), force=True, seed=seed, prompt=prompt, cascade=cascade)
    _render_and_report(settings, job, 1, as_json)


@app.command("export")
def export_command(
    project: Annotated[str, typer.Argument(help="Project name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Also copy the MP4 here.")] = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Write an OpenTimelineIO timeline here.")] = None,
    allow_unapproved: Annotated[bool, typer.Option("--allow-unapproved", help="Use chosen takes that failed checks or are stale.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stitch the chosen takes into a cut (MP4, and OTIO for editors)."""
    from flows.export import export_cut

    cut = export_cut(_settings(home), project, out, otio, allow_unapproved)
    data = {"path": str(cut.path), "otio": str(cut.otio) if cut.otio else None, "frames": cut.frames, "fps": cut.fps,
            "seconds": round(cut.seconds, 3), "shots": cut.shots, "skipped": cut.skipped, "audio": cut.has_audio}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    console.print(f"[bold green]Cut:[/] {escape(str(cut.path))} — {cut.frames} frames, {cut.seconds:.2f} s, shots {', '.join(cut.shots)}")
    if cut.otio:
        console.print(f"OTIO timeline: {escape(str(cut.otio))}")
    if cut.skipped:
        console.print(f"[yellow]Left out (no chosen take):[/] {', '.join(cut.skipped)}")


models_app = typer.Typer(help="Build and inspect models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_model(
    directory: Annotated[Path, typer.Argument(help="Where to save the pipeline.")],
    family: Annotated[str, typer.Option(help="wan, ltx or cogvideox.")] = "wan",
    random: Annotated[bool, typer.Option("--random", help="Random weights (paints noise).")] = True,
) -> None:
    """Build a tiny random-weight image-to-video pipeline and save it with save_pretrained."""
    from generation.tiny import BUILDERS, make_tiny

    if family not in BUILDERS:
        raise ConfigError(f"family {family!r} is not allowed; use {', '.join(BUILDERS)}")
    path = make_tiny(directory, family)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    console.print(f"Saved tiny {family} pipeline to {escape(str(path))} ({size / 1024:.0f} KiB)")


def main() -> None:
    """Console-script entry point: storyreel errors become one red line and an exit code."""
    try:
        app()
    except StoryreelError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
