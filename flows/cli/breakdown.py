"""`storyreel breakdown`: a screenplay's breakdown written out as an editable sidecar."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import JsonOpt, app, console, err_console
from shots.breakdown import breakdown, sidecar_text
from shots.errors import ConfigError


@app.command("breakdown")
def breakdown_command(
    script: Annotated[Path, typer.Argument(help="Screenplay: .fountain (or a .csv shot list)")],
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the sidecar here (plan and render read <script>.yaml).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file at --out.")] = False,
) -> None:
    """Break a screenplay down (characters, looks, scenes, shots with their lines) and print it
    as YAML, or JSON; with --out, write it as a sidecar that plan and render then use."""
    if script.suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(f"{script}: a YAML storyboard is its own breakdown; breakdown reads a .fountain or .csv file")
    from production.lm_breakdown import load_screenplay  # the language model's stack, for this command only

    board, report = load_screenplay(script)
    if report is not None:
        err_console.print(escape(report.summary()))
    data = breakdown(board)
    if out is None:
        print(json.dumps(data, indent=2, ensure_ascii=False) if as_json else sidecar_text(data, script.name), end="" if not as_json else "\n")
        return
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; give --force to replace it (it may hold a breakdown someone corrected)")
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if as_json else sidecar_text(data, script.name)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out)  # never a half-written sidecar beside the script
    shots = sum(len(s["shots"]) for s in data["scenes"])
    console.print(f"[green]Wrote[/] {escape(str(out))}: {len(data['characters'])} characters, "
                  f"{len(data['scenes'])} scenes, {shots} shots")
