"""`storyreel anchor`: set the image a character's identity is judged against."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import HomeOpt, ProjectArg, app, console, settings_for
from flows.settings import reviewer_name
from shots.errors import ConfigError


def parse_take(value: str) -> tuple[str, int]:
    """``SHOT:N`` → (shot, N)."""
    shot, sep, number = value.rpartition(":")
    if not sep or not shot or not number.isdigit() or int(number) < 1:
        raise ConfigError(f"--take {value!r} is not SHOT:N (e.g. s01:2)")
    return shot, int(number)


def parse_box(value: str | None) -> tuple[int, int, int, int] | None:
    """``x,y,w,h`` in pixels of the take's frames → a box (None when not given)."""
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--box {value!r} is not x,y,w,h in whole pixels (e.g. 10,12,24,24)")
    x, y, w, h = (int(p) for p in parts)
    if w < 1 or h < 1:
        raise ConfigError(f"--box {value!r}: width and height must be at least 1")
    return x, y, w, h


@app.command("anchor")
def anchor_command(
    project: ProjectArg,
    character: Annotated[str, typer.Argument(help="Character id.")],
    take: Annotated[str, typer.Option("--take", help="The take to anchor on, SHOT:N.")],
    frame: Annotated[int | None, typer.Option("--frame", help="Frame of the take (default: its middle).")] = None,
    box: Annotated[str | None, typer.Option("--box", help="The character's region x,y,w,h (default: found by the scorer).")] = None,
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who sets it (default $STORYREEL_REVIEWER).")] = "",
    home: HomeOpt = None,
) -> None:
    """Replace a character's identity anchor with a frame of a take; the next render re-judges
    its shots against it (no re-render) and re-rolls those that now fail."""
    from production.anchors import set_take_anchor

    shot, number = parse_take(take)
    who = reviewer or reviewer_name()
    anchor = set_take_anchor(settings_for(home), project, character, shot, number, frame, parse_box(box), who)
    where = f"{shot} take {number} frame {anchor.frame}" + (f", region {tuple(anchor.box)}" if anchor.box else "")
    console.print(f"[green]Anchored[/] {escape(character)} on {escape(where)} (sha256 {anchor.sha256[:12]}). "
                  "The next `storyreel render` re-judges its shots.")
