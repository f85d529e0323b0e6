"""`storyreel render`, `rerender` and `export`: the main job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
from flows.settings import AppSettings, prefect_api_url, reviewer_name, workers_by_default
from shots.errors import ConfigError
from shots.loading import load_storyboard

DEFAULT_MEDIA_URL = "http://127.0.0.1:8765"


VERDICT_STYLE = {"approved": "bold green", "passed": "green", "best_of_failed": "red", "failed": "red", "rejected": "red"}


def take_cell(row: dict[str, Any]) -> str:
    """The chosen take and what it stands on, e.g. ``2 best of failed`` in red."""
    if row["chosen_take"] is None:
        return "—"
    verdict = row["verdict"] or ""
    return f"{row['chosen_take']} [{VERDICT_STYLE.get(verdict, '')}]{verdict.replace('_', ' ')}[/]"


def outcome_problems(summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Every shot of the run that ended without a take a person or its checks accept, and why.

    A shot rendered in this run that kept its previous take says so too (not a problem).
    """
    errors = {r["shot"]: r["error"] for r in summary.get("shots", []) if r.get("error")}
    touched = {r["shot"] for r in summary.get("shots", [])}
    problems = []
    for row in rows:
        if row["id"] not in touched:
            continue
        if row["verdict"] == "failed" or (row["id"] in errors and row["chosen_take"] is None):
            problems.append(f"{row['id']}: {errors.get(row['id'], 'failed: no take was rendered')}")
        elif row["verdict"] == "best_of_failed":
            problems.append(
                f"{row['id']}: none of {row['takes']} takes passed its checks; the best, take {row['chosen_take']}, "
                f"fails {', '.join(row['failing'])} (approve it, or rerender)"
            )
    return problems


def _render_and_report(settings: AppSettings, job: Any, total: int, as_json: bool, rerender: bool = False) -> None:
    """Run the job (`flows.runner`), print its summary (table or JSON), exit 1 when a shot
    failed or ended without a take that passed or that a person approved."""
    from flows import runner
    from production.context import preflight
    from production.store import project_status
    from shots.errors import GenerationError

    board = preflight(job, settings)  # exit 2 for a model, device or scorer that cannot work, before the flow
    from production.stills import check_approved_files

    check_approved_files(settings, job.stills_project or job.project, board)  # an approved still whose file went missing: exit 2
    settings.database(create=True)  # an unusable database is one line now, not a flow failure later
    if rerender:
        summary = runner.rerender(settings, job, not as_json, notify=lambda text: console.print(escape(text)))
    else:
        summary = runner.run_render(settings, job, total, not as_json)
    rows = project_status(settings, summary["project"])
    problems = outcome_problems(summary, rows)
    summary["problems"] = problems
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary, rows)
    if problems:
        raise GenerationError(f"{len(problems)} shot(s) need attention:\n" + "\n".join(problems))
    if summary.get("failed"):
        raise GenerationError(summary["failed"])
    if held := summary.get("keyframes_waiting"):
        raise GenerationError(f"waiting for keyframe approval, so not rendered: {', '.join(held)}; approve their keyframes "
                              f"(storyreel approve-keyframe {job.stills_project or job.project} SHOT, or the keyframe review page) and render again")
    left = (summary.get("remaining") or {}).get("not rendered") if not rerender and not summary.get("cut") else None
    if left:  # exit 0 means rendered and cut: a re-render queued meanwhile made these stale
        raise GenerationError(f"not rendered, so no new cut: {', '.join(left)} (made stale during the run, e.g. by a "
                              "re-render of an earlier shot); run `storyreel render` again to render them and cut")


def _print_summary(summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"project {escape(summary['project'])}")
    for column in ("shot", "status", "take", "takes", "scores", "seconds"):
        table.add_column(column, overflow="fold")
    for r in rows:
        scores = " ".join(
            f"[{'green' if v['passed'] else 'red' if v['passed'] is False else 'dim'}]{k} {v['value']:.2f}[/]"
            for k, v in r["scores"].items()
        )
        table.add_row(r["id"], r["status"], take_cell(r), str(r["takes"]), scores, f"{r['gpu_seconds']:.1f}")
    console.print(table)
    for r in summary.get("shots", []):
        if r.get("after_rejection") and r.get("chosen") is not None:
            console.print(f"[cyan]{escape(r['shot'])}:[/] rejected before: rendered anew (takes {', '.join(map(str, r.get('takes', [])))})")
        if r.get("reason") == "kept_previous":
            new = [str(t) for t in r.get("takes", []) if t != r["chosen"]]
            why = f" ({escape(r['error'])})" if r.get("error") else ""
            console.print(
                f"[yellow]{escape(r['shot'])}:[/] the new take {', '.join(new) or '(none rendered)'} did not pass{why}; "
                f"kept take {r['chosen']}"
            )
    stale = summary.get("stale_downstream")
    if stale:
        console.print("[yellow]Now stale downstream[/] (estimated render seconds): " + ", ".join(f"{k} ~{v:.1f} s" for k, v in stale.items()))
    for line in summary.get("healed", []):
        console.print(f"[yellow]Healed:[/] {escape(line)}: rendered again")
    if summary.get("prefect") is False and not summary.get("shots"):
        console.print("Nothing to render: every shot is current.")
    if summary.get("cut"):
        cut = summary["cut"]
        same = " (unchanged: no new cut written)" if cut.get("unchanged") else ""
        console.print(f"[bold green]Cut:[/] {escape(cut['path'])} — {cut['frames']} frames, {cut['seconds']:.2f} s at {cut['fps']:g} fps{same}")
    elif summary.get("remaining"):
        left = summary["remaining"]
        console.print("[yellow]No new cut:[/] " + "; ".join(f"{escape(what)}: {', '.join(keys)}" for what, keys in left.items()))
        hints = []
        if "awaiting review" in left:
            hints.append(f"review them (`storyreel review {escape(summary['project'])}`, the review page, or `storyreel approve`)")
        if "rejected" in left or "not rendered" in left:
            hints.append("`storyreel render` renders rejected and missing shots anew")
        console.print("  " + "; ".join(hints) + ".")
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
    no_review: Annotated[bool, typer.Option("--no-review", help="Do not pause for review.")] = False,
    review: Annotated[str | None, typer.Option("--review", help="shot | batch | off (default: shot with a Prefect server, else off).")] = None,
    review_timeout: Annotated[int, typer.Option(help="Seconds to wait for a review before moving on.")] = 3600,
    workers: Annotated[bool, typer.Option("--workers", help="Send shots to running `storyreel worker`s (else render here).")] = False,
    device: Annotated[str | None, typer.Option(help="Speed knob: auto, cpu, cuda, cuda:N.")] = None,
    dtype: Annotated[str | None, typer.Option(help="Speed knob: auto, float32, bfloat16, float16.")] = None,
    cache: Annotated[str | None, typer.Option(help="Speed knob: off, first_block, mag, taylorseer, pyramid.")] = None,
    attention_backend: Annotated[str | None, typer.Option(help="Speed knob: a diffusers attention backend, e.g. native, flash.")] = None,
    compile: Annotated[bool | None, typer.Option("--compile/--no-compile", help="Speed knob: regional compile.")] = None,
    vae_tiling: Annotated[bool | None, typer.Option("--vae-tiling/--no-vae-tiling", help="Speed knob: tiled VAE decode.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory mode: auto, full, fp8_storage, model_offload, group_offload (the last two CUDA).")] = None,
    cpu_offload: Annotated[bool | None, typer.Option("--cpu-offload/--no-cpu-offload", help="Old name of --memory model_offload.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for a render of the same project to finish (default: refuse at once).")] = False,
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Your name, prefilled in review forms (default $STORYREEL_REVIEWER, else your login name).")] = None,
    pass_name: Annotated[str | None, typer.Option("--pass", help="draft: with the storyboard's draft settings, into project NAME.draft; final: re-render the approved drafts with the full settings, their seeds and keyframes.")] = None,
    stage: Annotated[str, typer.Option("--stage", help="all (default), or keyframes: make the keyframes and character sheets only.")] = "all",
    as_json: JsonOpt = False,
) -> None:
    """Render every pending or stale shot (re-rolling failures), pause for review, stitch the cut."""
    from production.context import RenderJob
    from production.store import project_name

    settings = settings_for(home)
    board = load_storyboard(file)  # bad input fails here, before any model work (the breakdown model runs at submit)
    name = project_name(file, project)
    knobs = {"device": device, "dtype": dtype, "cache": cache, "attention_backend": attention_backend,
             "compile": compile, "vae_tiling": vae_tiling, "memory": memory, "cpu_offload": cpu_offload}
    overrides = tuple((k, v) for k, v in knobs.items() if v is not None)
    from production.context import apply_overrides

    apply_overrides(board.settings, dict(overrides))  # bad values fail here, before any work
    mode = "off" if no_review else (review or ("shot" if prefect_api_url() else "off"))
    if mode not in ("shot", "batch", "off"):
        raise ConfigError(f"--review {mode!r} is not allowed; use shot, batch or off")
    if review_timeout < 1:
        raise ConfigError("--review-timeout must be at least 1 second")
    if stage not in ("all", "keyframes"):
        raise ConfigError(f"--stage {stage!r} is not allowed; use all or keyframes")
    if stage == "keyframes":
        from flows.cli.stills import print_stills

        print_stills(settings, file, name, as_json)
        return
    fields: dict[str, Any] = {"project": name, **pass_fields(settings, board, name, pass_name)}
    job = RenderJob(storyboard=str(file.resolve()), home=str(settings.home), database_url=settings.database_url,
                    model=model, review=mode, review_timeout=review_timeout, media_url=settings.media_url or DEFAULT_MEDIA_URL,
                    workers=workers or workers_by_default(), results_url=settings.results_url,
                    overrides=overrides, wait=wait, reviewer=reviewer if reviewer is not None else reviewer_name(), **fields)
    _render_and_report(settings, job, len(board.shot_list()), as_json)


def pass_fields(settings: AppSettings, board: Any, name: str, pass_name: str | None) -> dict[str, Any]:
    """The job's fields for ``--pass`` (none without it)."""
    from production.passes import draft_project, draft_seeds

    if pass_name is None:
        return {}
    if pass_name == "draft":
        if board.settings.draft is None:
            raise ConfigError("--pass draft renders with the storyboard's settings.draft, and it has none "
                              "(e.g. draft: {steps: 4, guidance: 1, width: 320, height: 192})")
        return {"project": draft_project(name), "stills_project": name, "pass_name": "draft"}
    if pass_name == "final":
        from production.context import planned_graph

        seeds = draft_seeds(settings, name, planned_graph(settings, board))
        return {"pass_name": "final", "seeds": tuple(sorted(seeds.items())), "draft_project": draft_project(name)}
    raise ConfigError(f"--pass {pass_name!r} is not allowed; use draft or final")


@app.command("rerender")
def rerender_command(
    project: Annotated[str, typer.Argument(help="Project name.")],
    shot: Annotated[str, typer.Argument(help="Shot id.")],
    seed: Annotated[int | None, typer.Option(help="Seed for the new take (default: the next unused one).")] = None,
    prompt: Annotated[str | None, typer.Option(help="The shot's own text for this take (style, characters and camera are composed around it).")] = None,
    cascade: Annotated[bool, typer.Option("--cascade", help="Also re-render the shots after it in its chain.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a new take of one shot; shots after it in its chain become stale (or re-render with --cascade).

    While a render holds the project, the request is queued for that render and this waits.
    """
    from production.context import RenderJob
    from production.store import transaction
    from storage.repo import get_project, get_shot

    settings = settings_for(home)
    with transaction(settings.database()) as session:
        record = get_project(session, project)
        get_shot(session, record, shot)
        storyboard = record.storyboard_path
    if seed is not None and not 0 <= seed < 2**32:
        raise ConfigError(f"--seed {seed} is not allowed; use 0 … 4294967295")
    job = RenderJob(storyboard=storyboard, project=project, home=str(settings.home), database_url=settings.database_url,
                    only=(shot,), force=True, seed=seed, prompt=prompt, cascade=cascade, media_url=settings.media_url)
    _render_and_report(settings, job, 1, as_json, rerender=True)


@app.command("export")
def export_command(
    project: Annotated[str, typer.Argument(help="Project name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Also copy the MP4 here.")] = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Write an OpenTimelineIO timeline here.")] = None,
    allow_unapproved: Annotated[bool, typer.Option("--allow-unapproved", help="Use chosen takes that failed checks or are stale.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files at --out / --otio.")] = False,
    new: Annotated[bool, typer.Option("--new", help="Write a new numbered cut even when the newest already is these takes.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stitch the chosen takes into a new numbered cut (MP4, and OTIO for editors); when the
    newest cut already is these takes, report it (and copy it to --out) instead of writing it again."""
    from production.export import export_cut
    from production.leases import hold

    settings = settings_for(home)
    with hold(settings.database(), project, scope="export", purpose="export", wait=True,
              seconds=settings.lease_seconds) as held:
        cut = export_cut(settings, project, out, otio, allow_unapproved, owner=held.holder, force=force, reuse=not new)
    data = {"path": str(cut.path), "otio": str(cut.otio) if cut.otio else None, "number": cut.number, "frames": cut.frames, "fps": cut.fps,
            "seconds": round(cut.seconds, 3), "shots": cut.shots, "skipped": cut.skipped, "audio": cut.has_audio,
            "unchanged": cut.unchanged}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if cut.unchanged:
        console.print(f"[bold green]Unchanged:[/] cut {cut.number} already is these takes — {escape(str(cut.path))}"
                      + (" (copied)" if out else "") + f", {cut.frames} frames, {cut.seconds:.2f} s, shots {', '.join(cut.shots)}")
    else:
        console.print(f"[bold green]Cut:[/] {escape(str(cut.path))} — {cut.frames} frames, {cut.seconds:.2f} s, shots {', '.join(cut.shots)}")
    if cut.otio:
        console.print(f"OTIO timeline: {escape(str(cut.otio))}")
    if cut.skipped:
        console.print(f"[yellow]Left out (no chosen take):[/] {', '.join(cut.skipped)}")


