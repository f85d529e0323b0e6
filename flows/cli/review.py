"""`storyreel approve` and `storyreel review` (the terminal review, for people without the UI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table

from flows.cli.app import HomeOpt, ProjectArg, app, console, settings_for
from flows.settings import reviewer_name
from shots.errors import ConfigError

if TYPE_CHECKING:
    from review.decisions import ShotReview

ReviewerOpt = Annotated[str | None, typer.Option("--reviewer", help="Your name, kept with the review (default $STORYREEL_REVIEWER, else your login name).")]


@app.command("approve")
def approve_command(
    project: ProjectArg,
    shot: Annotated[str, typer.Argument(help="Shot id.")],
    take: Annotated[int | None, typer.Argument(help="Take number (default: the chosen take).")] = None,
    notes: Annotated[str, typer.Option(help="Notes kept with the review.")] = "",
    reviewer: ReviewerOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve a shot's chosen take (or another take), from scripts."""
    from review.decisions import ShotReview, apply_review

    review = ShotReview(decision="approve", take=take, notes=notes, reviewer=reviewer or reviewer_name())
    applied = apply_review(settings_for(home), project, shot, review)
    console.print(("[green]" if applied.recorded else "[yellow]") + escape(applied.said) + "[/]")
    if applied.stale:
        console.print(f"[yellow]Now stale:[/] {', '.join(applied.stale)}")


def _show(info: dict) -> None:
    table = Table(title=f"shot {escape(info['shot'])} — {escape(info['prompt'])}", show_lines=False)
    for column in ("take", "seed", "passed", "weighted", "scores", "contact sheet"):
        table.add_column(column, overflow="fold")
    for t in info["takes"]:
        scores = " ".join(f"{m} {v:.2f}" for m, (v, _, _) in t["scores"].items())
        mark = "*" if t["take"] == info["chosen"] else ""
        table.add_row(f"{t['take']}{mark}", str(t["seed"]), str(t["passed"]), f"{t['weighted']:.3f}", scores or t["status"], escape(t["sheet"] or ""))
    console.print(table)


@app.command("review")
def review_command(project: ProjectArg, reviewer: ReviewerOpt = None, home: HomeOpt = None) -> None:
    """Review scored shots in the terminal: approve, reject, pick a take, or re-roll."""
    from review.decisions import ShotReview, apply_review, shot_info, to_review

    reviewer = reviewer or reviewer_name()
    settings = settings_for(home)
    pending = to_review(settings, project)
    if not pending:
        console.print("Nothing to review: every shot is approved, rejected or not rendered yet.")
        return
    queue = list(pending)
    while queue:
        key = queue.pop(0)
        info = shot_info(settings, project, key)
        _show(info)
        try:
            answer = Prompt.ask(r"\[a]pprove  \[r]eject  \[t]ake N  \[n]ew take  \[s]kip  \[q]uit", default="a", console=console).strip().lower()
        except EOFError:  # input ended (a script): stop here, nothing half-decided
            break
        if answer.startswith("q"):
            break
        if answer.startswith("s"):
            continue
        notes = Prompt.ask("notes", default="", console=console)
        if answer.startswith("a"):
            apply_review(settings, project, key, ShotReview(decision="approve", notes=notes, reviewer=reviewer))
        elif answer.startswith("t"):
            number = answer[1:].strip() or Prompt.ask("take number", console=console)
            if not number.isdigit():
                raise ConfigError(f"take {number!r} is not a number")
            apply_review(settings, project, key, ShotReview(decision="approve", take=int(number), notes=notes, reviewer=reviewer))
        elif answer.startswith("r"):
            apply_review(settings, project, key, ShotReview(decision="reject", notes=notes, reviewer=reviewer))
        elif answer.startswith("n"):
            prompt = Prompt.ask("new prompt (empty: keep)", default="", console=console) or None
            seed = Prompt.ask("seed (empty: next)", default="", console=console)
            review = ShotReview(decision="reroll", prompt=prompt, seed=int(seed) if seed.isdigit() else None, notes=notes, reviewer=reviewer)
            apply_review(settings, project, key, review)
            _reroll(settings, project, key, review)
            queue.insert(0, key)  # ask again about the new take
            continue
        else:
            console.print(f"[yellow]Unknown answer {escape(answer)!r}[/]")
            queue.insert(0, key)
            continue
        console.print(f"{escape(key)}: [bold]{shot_info(settings, project, key)['status']}[/]")


def _reroll(settings, project: str, key: str, review: ShotReview) -> None:  # type: ignore[no-untyped-def]
    from flows.runner import rerender
    from production.context import RenderJob
    from production.store import transaction
    from storage.repo import get_project

    with transaction(settings.database()) as session:
        storyboard = get_project(session, project).storyboard_path
    job = RenderJob(storyboard=storyboard, project=project, home=str(settings.home), database_url=settings.database_url,
                    only=(key,), force=True, seed=review.seed, prompt=review.prompt, export=False)
    rerender(settings, job, show_progress=False, notify=lambda text: console.print(escape(text)))
