"""`storyreel submit`, `status` and `projects`: the database side."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.app import (
    FileArg,
    HomeOpt,
    JsonOpt,
    ProjectOpt,
    app,
    console,
    settings_for,
)

STATE_STYLE = {"new": "green", "stale": "yellow", "unchanged": "dim", "removed": "red"}


@app.command("submit")
def submit_command(file: FileArg, project: ProjectOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Record a storyboard (new project or new version) without rendering; show what changed."""
    from production.store import submit_file

    name, _, _, changes = submit_file(settings_for(home), file, project)
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


def _decision_cell(review: dict | None) -> str:
    """``approve take 2 by ed, 2026-12-01 10:03 — "warmer light"``."""
    if not review:
        return ""
    text = review["decision"] + (f" take {review['take']}" if review["take"] and review["decision"] == "approve" else "")
    text += f" by {review['reviewer'] or 'someone'}, {review['at'][:16].replace('T', ' ')}"
    if review["notes"]:
        text += f" — \"{review['notes']}\""
    return escape(text)


@app.command("status")
def status_command(project: Annotated[str, typer.Argument(help="Project name.")], home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every shot of a project: status, chosen take, scores, staleness, takes, GPU seconds."""
    from flows.cli.render import take_cell
    from production.store import project_status

    rows = project_status(settings_for(home), project)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"project {escape(project)}")
    reviewed = any(r["review"] for r in rows)
    drafted = any(r["draft"] for r in rows)
    for column in ("shot", "scene", "status", "take", *(("draft",) if drafted else ()), "scores", "takes", "GPU s",
                   *(("last decision",) if reviewed else ()), "media / stale reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        scores = " ".join(
            f"[{'green' if v['passed'] else 'red' if v['passed'] is False else 'dim'}]{k} {v['value']:.2f}[/]"
            for k, v in r["scores"].items()
        )
        note = r["stale_reason"] if r["stale"] else (r["media"] if r["media"] not in (None, "ok") else "")
        if r["verdict"] == "best_of_failed":
            note = "; ".join(filter(None, [note, "fails " + ", ".join(r["failing"])]))
        take = take_cell(r) + (f" (seed {r['chosen_seed']})" if r["chosen_take"] else "")
        draft = r["draft"] or {}
        draft_cell = f"{draft.get('status', '—')} take {draft['take']}" if draft.get("take") else draft.get("status", "—")
        table.add_row(r["id"], escape(r["scene"]), r["status"], take, *((draft_cell,) if drafted else ()), scores, str(r["takes"]),
                      f"{r['gpu_seconds']:.1f}",
                      *((_decision_cell(r["review"]),) if reviewed else ()), escape(note or ""))
    console.print(table)
    anchors = {cid: info for r in rows for cid, info in r["anchors"].items()}
    for cid, info in sorted(anchors.items()):
        where = (f"{info['source']} {info['reference']}" if info["source"] in ("reference", "sheet")
                 else f"{info['shot']} take {info['take']} frame {info['frame']}" + (f" region {tuple(info['box'])}" if info["box"] else ""))
        mark = " [yellow]provisional: from the best failing take of its first appearance, until one passes or is approved[/]" \
            if info["set_by"] == "provisional" else ""
        console.print(f"[cyan]Anchor[/] {escape(cid)}: {escape(where)} (set by {escape(info['set_by'])}, sha256 {info['sha256'][:12]}){mark}")
    leases = {(lease["holder"], lease["purpose"], lease["since"]) for r in rows if (lease := r["lease"])}
    for holder, purpose, since in sorted(leases):
        console.print(f"[cyan]In use:[/] {escape(holder)} ({purpose}) since {since}")


@app.command("projects")
def projects_command(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List projects."""
    from production.store import transaction
    from shots.errors import NotFound
    from storage.repo import list_projects, live_shots

    settings = settings_for(home)
    try:
        engine = settings.database()
    except NotFound:  # no database yet: no projects, and none is created by looking
        engine = None
    rows = []
    if engine is not None:
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
    console.print(table if rows else f"No projects in {escape(str(settings.home))} yet.")


