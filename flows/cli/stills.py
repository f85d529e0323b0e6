"""`storyreel keyframes`, `stills`, `approve-keyframe` and `approve-sheet`: pre-production
stills made, listed and decided from the terminal and scripts (`production.stills`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.app import FileArg, HomeOpt, JsonOpt, ProjectArg, ProjectOpt, app, console, settings_for
from flows.settings import reviewer_name

ReviewerOpt = Annotated[str | None, typer.Option("--reviewer", help="Your name, kept with the decision (default $STORYREEL_REVIEWER).")]
NotesOpt = Annotated[str, typer.Option("--notes", help="Notes kept with the decision.")]
TakeOpt = Annotated[int | None, typer.Option("--take", help="Take number (default: the best take of the storyboard as it is now).")]
RejectOpt = Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")]

STATUS_STYLE = {"approved": "bold green", "passed": "green", "failed": "red", "rejected": "red", "stale": "yellow", "missing": "dim"}


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("still", "scene", "status", "takes", "chosen"):
        table.add_column(column)
    for row in rows:
        style = STATUS_STYLE.get(str(row["status"]), "")
        takes = ", ".join(f"{t['attempt']}{'✓' if t['passed'] else '✗' if t['passed'] is False else ''}" for t in row["takes"])
        table.add_row(escape(str(row["label"])), escape(str(row["scene"])), f"[{style}]{row['status']}[/]", takes or "—",
                      str(row["chosen"] or "—"))
    return table


def make_stills_for(settings: Any, file: Any, name: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Make the storyboard's stills as `storyreel keyframes` does; returns the report as data."""
    from flows.contexts import render_context
    from production.context import RenderJob, preflight, with_revision
    from production.stills import check_stills_model, make_stills, still_rows
    from production.store import transaction
    from storage.tracking import ensure_project

    job = with_revision(RenderJob(storyboard=str(file.resolve()), project=name, home=str(settings.home),
                                  database_url=settings.database_url))  # an edited file is a new context
    board = preflight(job, settings)
    check_stills_model(board)
    with transaction(settings.database(create=True)) as session:
        ensure_project(session, name, file)
    ctx = render_context(job)
    known = {s.id for s in ctx.graph.shots} | set(board.characters)
    unknown = [o for o in only if o.split("@")[0] not in known]
    if unknown:
        from shots.errors import NotFound

        raise NotFound(f"--only {', '.join(unknown)}: no such shot or character in {file}")
    report = make_stills(ctx, frozenset(only))
    return {"project": name, "made": report.made, "kept": report.kept, "failed": report.failed, "errors": report.errors,
            "stills": still_rows(ctx)}


@app.command("keyframes")
def keyframes_command(
    file: FileArg,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only these shots or characters (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make every cut shot's keyframes and every character's sheet (before any video), scored and re-rolled."""
    from production.store import project_name

    from shots.loading import load_storyboard

    settings = settings_for(home)
    load_storyboard(file)  # bad input fails here, before any model work
    name = project_name(file, project)
    print_stills(settings, file, name, as_json, tuple(only or ()))


def print_stills(settings: Any, file: Any, name: str, as_json: bool, only: tuple[str, ...] = ()) -> None:
    """Make the stills and print what stands (`keyframes`, `render --stage keyframes`)."""
    data = make_stills_for(settings, file, name, only)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    console.print(_table(data["stills"], f"stills of {name}"))
    console.print(f"made {len(data['made'])}, kept {len(data['kept'])}, failing {len(data['failed'])}")
    for label, error in data["errors"].items():
        console.print(f"[red]{escape(label)}:[/] {escape(error)}")
    console.print(f"Approve with: storyreel approve-keyframe {escape(name)} SHOT  ·  storyreel approve-sheet {escape(name)} CHARACTER")


@app.command("stills")
def stills_command(project: ProjectArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List a project's keyframes and sheets: status, takes and the chosen one."""
    from flows.contexts import render_context
    from production.stills import project_job, still_rows

    settings = settings_for(home)
    rows = still_rows(render_context(project_job(settings, project)))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    console.print(_table(rows, f"stills of {project}"))


def _decide(home: Any, project: str, key: tuple[str, str, str], take: int | None, reject: bool, reviewer: str | None,
            notes: str) -> None:
    from flows.contexts import render_context
    from production.stills import decide_slot, project_job

    settings = settings_for(home)
    ctx = render_context(project_job(settings, project))
    who = reviewer if reviewer is not None else reviewer_name()
    decided = decide_slot(ctx, key, take, "reject" if reject else "approve", who, notes)
    verb = "[red]Rejected[/]" if reject else "[green]Approved[/]"
    for still in decided:
        console.print(f"{verb} {escape(still.subject)} {escape(still.role)} take {still.attempt}" + (f" by {escape(still.reviewer)}" if still.reviewer else ""))


@app.command("approve-keyframe")
def approve_keyframe_command(
    project: ProjectArg,
    shot: Annotated[str, typer.Argument(help="Shot id.")],
    end: Annotated[bool, typer.Option("--end", help="The shot's end keyframe (default: its start keyframe).")] = False,
    take: TakeOpt = None,
    reject: RejectOpt = False,
    reviewer: ReviewerOpt = None,
    notes: NotesOpt = "",
    home: HomeOpt = None,
) -> None:
    """Approve (or --reject) a shot's keyframe: an approved start keyframe is where the shot starts, an end one where it lands."""
    _decide(home, project, ("keyframe", shot, "end" if end else "start"), take, reject, reviewer, notes)


@app.command("approve-sheet")
def approve_sheet_command(
    project: ProjectArg,
    character: Annotated[str, typer.Argument(help="Character id (a later look: CHARACTER@LOOK).")],
    view: Annotated[str | None, typer.Option("--view", help="One view only (default: every view of the sheet).")] = None,
    take: TakeOpt = None,
    reject: RejectOpt = False,
    reviewer: ReviewerOpt = None,
    notes: NotesOpt = "",
    home: HomeOpt = None,
) -> None:
    """Approve (or --reject) a character's sheet: an approved sheet is its identity anchor from the first shot on."""
    _decide(home, project, ("sheet", character, view or ""), take, reject, reviewer, notes)
