"""`storyreel validate` and `storyreel plan`: storyboards checked and shown without any model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.app import FileArg, HomeOpt, JsonOpt, app, console, err_console, settings_for
from shots.errors import StoryboardError
from shots.families import default_t2i
from shots.graph import START_FRAMES, PlannedShot, ShotGraph, plan_storyboard
from shots.loading import load_storyboard
from shots.models import Origin, Storyboard

StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings (neutral start frames, long prompts) as errors.")]


@dataclass(frozen=True)
class Start:
    """Where a shot's first frame will come from, and what the user should know about it."""

    kind: str
    detail: str | None
    warning: str | None


def shot_starts(board: Storyboard, graph: ShotGraph) -> dict[str, Start]:
    """The real start of every planned shot (`generation.keyframes.real_start`), with a
    warning for each shot that will start from a neutral grey frame."""
    from generation.keyframes import real_start

    t2i = default_t2i(board.settings.model, board.settings.t2i_model)
    starts = {}
    for s in graph.shots:
        kind, why = real_start(s.keyframe, t2i, s.prompt.action, graph.spec.text_to_video)
        detail = {"previous": s.conditioned_on, "reference": s.reference, "t2i": t2i}.get(kind)
        warning = None
        if kind == "neutral":
            reason = why or f"a {graph.spec.name} model has no text-to-video mode"
            warning = (
                f"starts from a neutral grey frame ({reason}); add a `reference` (on the shot or one "
                "of its characters), `settings.t2i_model`, or use a family with a text mode (Wan 2.2 "
                "TI2V, LTX-Video)"
            )
        starts[s.id] = Start(kind, detail, warning)
    return starts


def _warnings(board: Storyboard, graph: ShotGraph, starts: dict[str, Start]) -> list[tuple[str, str]]:
    """(where, text) for each warning: a shot's start frame or prompt length, a character in
    some shot that the screenplay names but never describes."""
    found = []
    for s in graph.shots:
        for text in (starts[s.id].warning, s.prompt.warning):
            if text:
                found.append((f"shot {s.id}", text))
        if s.prompt.expansion_problem:
            found.append((f"shot {s.id}", f"the prompt model's caption is not used ({s.prompt.expansion_problem}); the composed prompt renders"))
    present = {cid for s in graph.shots for cid in s.characters}
    bare = [(cid, c) for cid, c in board.characters.items() if cid in present and c.origin is not None and c.origin.how == "name only"]
    if len(bare) > NAMED_WARNINGS:  # a screenplay of many bare names: one warning, not thousands
        names = ", ".join(cid for cid, _ in bare[:NAMED_WARNINGS])
        source = bare[0][1].origin.file  # type: ignore[union-attr]
        found.append((f"characters {names} and {len(bare) - NAMED_WARNINGS} more",
                      f"{source} never describes them, so prompts give only their names; describe them in the sidecar "
                      f"{source}.yaml (characters: {{id: {{description: ...}}}}) or in the screenplay (NAME, a …, does …)"))
        bare = []
    for cid, character in bare:
        origin = character.origin
        at = f" (line {origin.line})" if origin.line else ""
        found.append((
            f"character {cid}",
            f"{origin.file}{at} never describes {character.description!r}, so prompts give only the "
            f"name; describe it in the sidecar {origin.file}.yaml "
            f"(characters: {{{cid}: {{description: ...}}}}) or in the screenplay (NAME, a …, does …)",
        ))
    return found


NAMED_WARNINGS = 8
"""Characters named one by one in the name-only warning; past this, one warning for them all."""


LISTED_WARNINGS = 50
"""Warnings printed one by one; past these, how many more there are."""


def _report(file: Path, warnings: list[tuple[str, str]], strict: bool) -> None:
    if strict and warnings:
        lines = "\n".join(f"{where}: {text}" for where, text in warnings)
        raise StoryboardError(f"--strict turns {len(warnings)} warning(s) into errors:\n{lines}", file=str(file))
    for where, text in warnings[:LISTED_WARNINGS]:
        err_console.print(f"[yellow]Warning:[/] {escape(where)}: {escape(text)}", highlight=False)
    if len(warnings) > LISTED_WARNINGS:
        err_console.print(f"[yellow]… and {len(warnings) - LISTED_WARNINGS} more warnings[/] (--strict lists them all)", highlight=False)


@app.command()
def validate(file: FileArg, strict: StrictOpt = False, home: HomeOpt = None) -> None:
    """Check a storyboard; exit 2 with FILE:LINE and what is allowed when it is wrong."""
    from production.loras import check_loras

    board = load_storyboard(file)
    check_loras(board, file, settings_for(home).home)  # LoRA files: found (folder, <home>/loras/) and loadable
    for chat_model in (board.settings.prompt_model, board.settings.breakdown_model):
        if chat_model:
            from generation.expand import check_prompt_model

            check_prompt_model(chat_model)  # a folder with a config and a chat template
    graph = plan_storyboard(board)
    _report(file, _warnings(board, graph, shot_starts(board, graph)), strict)
    scenes = len({s.scene for s in graph.shots})
    console.print(
        f"[green]OK[/] {escape(str(file))}: {len(graph.shots)} shots in {scenes} scenes, "
        f"{len(graph.chains)} chains, {graph.total_frames} frames "
        f"({graph.total_frames / graph.shots[0].fps:.2f} s at {graph.shots[0].fps} fps)"
    )


def _cast(board: Storyboard, cid: str, looks: dict[str, str]) -> dict[str, Any]:
    """A present character as the shot shows it: its look (``base`` or a later one's key)."""
    character = board.characters[cid]
    look = next((item for item in character.looks if item.key == looks.get(cid)), None)
    source = look or character
    return {"id": cid, "description": source.description, "names": list(character.names),
            "from": str(source.origin) if source.origin else None, "look": look.key if look else "base"}


def plan_rows(board: Storyboard, graph: ShotGraph, starts: dict[str, Start]) -> list[dict[str, Any]]:
    """One JSON-ready object per planned shot."""
    return [
        {
            "id": s.id,
            "scene": s.scene,
            "position": s.position,
            "chain": s.chain,
            "prompt": s.prompt.prompt,
            "composed_prompt": s.prompt.composed if s.prompt.composed is not None else s.prompt.prompt,
            "expansion": None if s.prompt.composed is None else {"used": s.prompt.expanded, "problem": s.prompt.expansion_problem},
            "negative_prompt": s.prompt.negative_prompt,
            "duration": s.duration,
            "frames": s.frames,
            "context_frames": s.context,
            "pipeline_frames": s.pipeline_frames,
            "end_frame": s.end_frame,
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
            "start": {"kind": starts[s.id].kind, "from": starts[s.id].detail, "warning": starts[s.id].warning},
            "reference": s.reference,
            "transition": {"crossfade": s.transition_seconds} if s.transition_seconds else "cut",
            "characters": list(s.characters),
            "cast": [_cast(board, cid, dict(s.looks)) for cid in s.characters],
            "camera": board.shot(s.id).camera,
            "dialogue": list(board.shot(s.id).dialogue),
            "prompt_tokens": s.prompt.tokens,
            "warning": s.prompt.warning,
        }
        for s in graph.shots
    ]


def _origin_cell(origin: Origin, storyboard: Path) -> str:
    """Where a description came from, short: ``line 10 (appositive)`` in the storyboard itself,
    else the file's name and line (the JSON has the whole path)."""
    name = "" if Path(origin.file) == storyboard else Path(origin.file).name
    line = f"line {origin.line}" if origin.line else ""
    where = f"{name}:{origin.line}" if name and origin.line else name or line or "storyboard"
    return f"{where} ({origin.how})"


def _start_cell(start: Start) -> str:
    text = START_FRAMES[start.kind]
    if start.detail:
        text += f": {start.detail}"
    return f"[yellow]{escape(text)}[/]" if start.warning else escape(text)


def _prompt_cell(s: PlannedShot) -> str:
    text = escape(s.prompt.prompt)
    if s.prompt.expanded:
        text += f"\n[dim]composed: {escape(s.prompt.composed or '')}[/]"
    elif s.prompt.expansion_problem:
        text += "\n[yellow](the prompt model's caption is not used: see the warning)[/]"
    return text


def keyframe_states(board: Storyboard, graph: ShotGraph, file: Path, home: Path | None, project: str | None) -> dict[str, dict[str, Any]]:
    """Each shot's planned keyframes (``start``/``end``) and where they stand in the project
    (``missing`` before any was made, or without a database)."""
    from sqlalchemy import select

    from production.still_slots import SlotState, plan_stills, slot_states
    from production.store import project_name, transaction
    from shots.errors import NotFound
    from storage.schema import Project

    name = project_name(file, project)
    found: dict[str, dict[str, Any]] = {}

    def note(states: list[SlotState]) -> None:
        for state in states:
            found.setdefault(state.spec.subject, {})[state.spec.role] = {
                "status": state.status, "take": state.chosen.attempt if state.chosen is not None else None}

    try:
        engine = settings_for(home).database()
    except NotFound:  # no database yet: every keyframe is still to make
        note([SlotState(spec, (), (), None) for spec in plan_stills(board, graph) if spec.kind == "keyframe"])
        return found
    with transaction(engine) as session:
        note(slot_states(session, session.scalar(select(Project).where(Project.name == name)), board, graph, "keyframe"))
    return found


def _keyframe_cell(states: dict[str, Any]) -> str:
    parts = []
    for role in ("start", "end"):
        if role in states:
            state = states[role]
            take = f" take {state['take']}" if state["take"] else ""
            colour = {"approved": "green", "stale": "yellow", "failed": "red", "rejected": "red"}.get(state["status"], "dim")
            parts.append(f"[{colour}]{role} keyframe: {state['status']}{take}[/]")
    return "\n" + "\n".join(parts) if parts else ""


@app.command()
def plan(file: FileArg, as_json: JsonOpt = False, strict: StrictOpt = False, home: HomeOpt = None,
         project: Annotated[str | None, typer.Option("--project", help="Project whose keyframes to show (default: the storyboard's folder).")] = None) -> None:
    """Show the shots a storyboard becomes: frames, start frames, keyframes, characters, prompts."""
    from production.expansion import expand_for
    from production.lm_breakdown import load_screenplay

    board, breakdown = load_screenplay(file)
    if breakdown is not None:
        err_console.print(escape(breakdown.summary()))
    graph, report = expand_for(board, plan_storyboard(board))
    if board.settings.prompt_model:
        err_console.print(f"prompt model: {report.asked} prompt(s) expanded now, {report.cached} from the cache")
    starts = shot_starts(board, graph)
    warnings = _warnings(board, graph, starts)
    if strict:
        _report(file, warnings, strict)
    keyframes = keyframe_states(board, graph, file, home, project)
    if as_json:
        rows = plan_rows(board, graph, starts)
        for row in rows:
            row["keyframes"] = keyframes.get(row["id"], {})
        print(json.dumps(rows, indent=2))
        _report(file, warnings, strict=False)  # on stderr: stdout stays JSON
        return
    if board.characters:
        cast = Table(title="characters", show_lines=False)
        for column in ("id", "names", "description"):
            cast.add_column(column, overflow="fold")
        cast.add_column("from", no_wrap=True)
        for cid, character in board.characters.items():
            origin = character.origin
            warn = origin is not None and origin.how == "name only"
            cast.add_row(escape(cid), escape(", ".join(character.names)),
                         f"[yellow]{escape(character.description)}[/]" if warn else escape(character.description),
                         escape(_origin_cell(origin, file)) if origin else "")
            for look in character.looks:  # later looks, each from its scene (or where it is named)
                where = f"as {look.named}" if look.named else f"from {look.from_}"
                cast.add_row(f"  [dim]↳ {escape(where)}[/]", "", escape(look.description),
                             escape(_origin_cell(look.origin, file)) if look.origin else "")
        console.print(cast)
    table = Table(title=f"{escape(str(file))} — model {escape(graph.model)}", show_lines=True)
    for column in ("shot", "scene", "frames", "continuity", "starts from", "characters", "prompt"):
        table.add_column(column, overflow="fold")
    for s in graph.shots:
        frames = f"{s.frames} ({s.duration:g} s → {s.seconds:.2f} s)"
        if s.repeated:
            frames += f"\nafter {s.context} context frames ({s.pipeline_frames} rendered)"
        elif s.context > 1:
            frames += f"\nfrom {s.context} context frames"
        transition = f"\n[cyan]crossfade {s.transition_seconds:g} s →[/]" if s.transition_seconds else ""
        table.add_row(
            s.id,
            escape(s.scene),
            frames,
            s.continuity + transition,
            _start_cell(starts[s.id]) + (f"\n[cyan]lands on {escape(s.end_frame)}[/]" if s.end_frame else "")
            + _keyframe_cell(keyframes.get(s.id, {})),
            escape(", ".join(s.characters)),
            _prompt_cell(s),
        )
    console.print(table)
    console.print(
        f"{len(graph.shots)} shots, {len(graph.chains)} chains, "
        f"{graph.total_frames} frames in the cut at {graph.shots[0].fps} fps, "
        f"{graph.shots[0].width}×{graph.shots[0].height}"
    )
    _report(file, warnings, strict=False)
