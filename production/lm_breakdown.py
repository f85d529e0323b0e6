"""A screenplay loaded for a command: the rule-based breakdown, or — with
``settings.breakdown_model`` — the model's, scene by scene where its answers pass the checks
(`shots.lm_breakdown`).

Answers are cached like prompt expansions (``<cache>/breakdowns/``, keyed by the model's
identity, the chat and the decoding settings) and checked again on every use, so a second `plan`
asks the model nothing. A sidecar that holds ``scenes`` (a person's corrected breakdown) wins
over the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from production.expansion import cache_root, read_answer, write_answer
from generation.expand import MAX_NEW_TOKENS, Expander, model_identity
from shots.errors import StoryboardError
from shots.lm_breakdown import BREAKDOWN_VERSION, SceneAnswer, bible_messages, check_bible, check_scene, scene_messages
from shots.loading import load_storyboard, read_sidecar, shot_seconds
from shots.models import Storyboard
from shots.parsing import Locator, build_storyboard, read_text


@dataclass
class BreakdownReport:
    """Which breakdown each scene has: ``model`` or ``rules`` (with the reason)."""

    model: str | None = None
    scenes: dict[str, str | None] = field(default_factory=dict)  # scene id → None (the model's) or why the rules'
    bible: str | None = "not asked"  # None: the model's bible was used; else why not
    asked: int = 0
    cached: int = 0

    def summary(self) -> str:
        used = sum(1 for why in self.scenes.values() if why is None)
        lines = [f"breakdown model: {used} of {len(self.scenes)} scenes from the model, the rest rule-based "
                 f"({self.asked} asked now, {self.cached} from the cache); character bible: "
                 + ("the model's" if self.bible is None else f"rule-based ({self.bible})")]
        lines += [f"  {scene}: rule-based — {why}" for scene, why in list(self.scenes.items())[:20] if why is not None]
        return "\n".join(lines)


def load_screenplay(path: Path, device: str | None = None) -> tuple[Storyboard, BreakdownReport | None]:
    """`load_storyboard`, with the breakdown model applied where the storyboard names one."""
    board = load_storyboard(path)
    if not board.settings.breakdown_model or path.suffix.lower() not in (".fountain", ".spmd"):
        return board, None
    if "scenes" in read_sidecar(path.with_name(path.name + ".yaml"))[0]:  # a person's breakdown stands
        return board, BreakdownReport(board.settings.breakdown_model, {s.id: "the sidecar's scenes stand" for s in board.scenes})

    def load() -> Expander:
        from generation.expand import PromptExpander
        from generation.speed import resolve_device

        return PromptExpander(str(board.settings.breakdown_model), resolve_device(device or board.settings.device), max_new_tokens=600)

    return with_model(board, path, load)


def _scene_lines(text: str, board: Storyboard) -> dict[str, list[tuple[int, str]]]:
    """Each scene's non-blank source lines after its heading, numbered as in the file."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [scene.line or (min((s.line or 1) for s in scene.shots)) for scene in board.scenes]
    out = {}
    for i, scene in enumerate(board.scenes):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(lines)
        out[scene.id] = [(n, lines[n - 1].strip()) for n in range(starts[i] + 1, end + 1) if lines[n - 1].strip()]
    return out


def _ask(folder: Path, identity: str, chat: list[dict[str, str]]) -> tuple[Path, str | None]:
    key = hashlib.sha256(json.dumps([BREAKDOWN_VERSION, identity, chat, 600]).encode()).hexdigest()
    path = folder / key[:2] / f"{key}.json"
    return path, read_answer(path)


def with_model(board: Storyboard, path: Path, expander: Callable[[], Expander]) -> tuple[Storyboard, BreakdownReport]:
    """``board`` with the scenes and characters whose model answers pass the checks replaced
    by the model's breakdown (see the module docstring)."""
    model = str(board.settings.breakdown_model)
    identity = model_identity(model)
    folder = cache_root() / "breakdowns"
    text = read_text(path)
    scene_lines = _scene_lines(text, board)
    known = {cid: c.description for cid, c in board.characters.items()}
    chats: dict[str, list[dict[str, str]]] = {s.id: scene_messages(s.id, scene_lines[s.id], known) for s in board.scenes}
    intros = {cid: [(_scene_at(board, c.origin.line), c.origin.line, _line(text, c.origin.line))]
              for cid, c in board.characters.items() if c.origin and c.origin.line}
    chats["*bible*"] = bible_messages(intros)
    report = BreakdownReport(model)
    answers: dict[str, str] = {}
    pending: dict[str, Path] = {}
    for key, chat in chats.items():
        cache, answer = _ask(folder, identity, chat)
        if answer is None:
            pending[key] = cache
        else:
            answers[key] = answer
    if pending:
        got = expander().answer([chats[k] for k in pending])
        for key, answer in zip(pending, got):
            answers[key] = answer
            write_answer(pending[key], answer)
    report.asked, report.cached = len(pending), len(chats) - len(pending)
    raw = board.model_dump(by_alias=True, exclude_none=True, mode="json")
    seconds = shot_seconds(raw.get("settings"))
    for scene in raw["scenes"]:
        lines = {n for n, _ in scene_lines[scene["id"]]}
        parsed, why = check_scene(answers[scene["id"]], lines, set(known), seconds) if lines else (None, "the scene has no lines")
        report.scenes[scene["id"]] = why
        if parsed is not None:
            scene["shots"] = _shots(parsed, scene["shots"])
    bible, report.bible = check_bible(answers["*bible*"], set(known), {s["id"] for s in raw["scenes"]})
    if bible is not None:
        for cid, character in bible.characters.items():
            origin = {"file": str(path), "how": "breakdown model"}
            raw["characters"][cid].update(description=character.description, origin=origin,
                                          looks=[{"from": look.from_, "description": look.description, "origin": origin} for look in character.looks])
    if all(why is not None for why in report.scenes.values()) and bible is None:
        return board, report
    number = 0
    for scene in raw["scenes"]:
        for shot in scene["shots"]:
            number += 1
            shot["id"] = f"s{number:02d}"
    try:
        return build_storyboard(raw, Locator(), str(path), path.parent), report
    except StoryboardError as exc:  # the model's breakdown together does not hold: the rules' throughout
        reason = f"the model's breakdown does not validate ({str(exc).splitlines()[0]})"
        return board, BreakdownReport(model, {s.id: reason for s in board.scenes}, reason, report.asked, report.cached)


def _shots(parsed: SceneAnswer, rule_shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's shots, each rule-based shot's dialogue on the model's shot of the line at or
    before it, the scene's last transition on its last shot."""
    shots: list[dict[str, Any]] = []
    for answer in sorted(parsed.shots, key=lambda s: s.line):
        shot: dict[str, Any] = {"id": "s", "prompt": answer.prompt, "characters": list(dict.fromkeys(answer.characters)),
                                "line": answer.line, "dialogue": []}
        if answer.camera:
            shot["camera"] = answer.camera
        if answer.duration is not None:
            shot["duration"] = answer.duration
        shots.append(shot)
    for rule in rule_shots:
        target = next((s for s in reversed(shots) if s["line"] <= (rule.get("line") or 0)), shots[0])
        target["dialogue"] += rule.get("dialogue", [])
    if "transition" in rule_shots[-1]:
        shots[-1]["transition"] = rule_shots[-1]["transition"]
    return shots


def _line(text: str, number: int | None) -> str:
    lines = text.splitlines()
    return lines[number - 1].strip() if number and 0 < number <= len(lines) else ""


def _scene_at(board: Storyboard, line: int | None) -> str:
    found = board.scenes[0].id
    for scene in board.scenes:
        if scene.line and line and scene.line <= line:
            found = scene.id
    return found
