"""Prompt expansion for a storyboard: each shot's composed prompt asked of ``settings.prompt_model``
once, the answers cached by what was asked, checked, and stored on the storyboard version.

The cache (``$STORYREEL_CACHE``, else ``$XDG_CACHE_HOME/storyreel`` or ``~/.cache/storyreel``,
folder ``expansions/``) holds the model's raw answer under the SHA-256 of the model's identity,
the chat and the decoding settings; the checks (`shots.expansion.check_expansion`) run again on
every use, so a changed description re-judges an answer without asking the model again. A
render takes the prompts its submission stored (`stored_prompts`), so workers on other hosts
never need the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from generation.expand import MAX_NEW_TOKENS, Expander, model_identity
from shots.expansion import EXPANSION_VERSION, check_expansion, messages
from shots.graph import PlannedShot, ShotGraph
from shots.models import Storyboard
from shots.prompts import estimate_tokens, shot_descriptions
from storage.schema import Project, StoryboardVersion


def cache_root() -> Path:
    """Where storyreel caches what it can make again."""
    if os.environ.get("STORYREEL_CACHE"):
        return Path(os.environ["STORYREEL_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "storyreel"


@dataclass(frozen=True)
class ExpansionReport:
    """How a storyboard's prompts were expanded: answers the model gave now, answers reused."""

    asked: int = 0
    cached: int = 0


def read_answer(path: Path) -> str | None:
    try:
        answer = json.loads(path.read_text(encoding="utf-8")).get("answer")
    except (OSError, ValueError, AttributeError):
        return None  # missing or torn: ask again
    return answer if isinstance(answer, str) else None


def write_answer(path: Path, answer: str) -> None:
    """Write atomically (several processes may expand the same prompt at once); a cache that
    cannot be written costs a later re-run, not this one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
            json.dump({"answer": answer}, f)
        os.replace(f.name, path)
    except OSError:
        pass


def _expanded(planned: PlannedShot, composed: str, answer: str | None, problem: str | None) -> PlannedShot:
    prompt = answer.strip() if answer is not None and problem is None else composed
    text = " ".join(prompt.split())
    composed_prompt = dataclasses.replace(
        planned.prompt, prompt=text, tokens=estimate_tokens(text), composed=composed, expansion_problem=problem
    )
    return dataclasses.replace(planned, prompt=composed_prompt)


def _checks(board: Storyboard, planned: PlannedShot) -> tuple[list[str], list[str]]:
    """What an expansion of this shot must keep (its characters' descriptions) and must not
    bring in (the other characters' names and descriptions)."""
    keep = list(shot_descriptions(board, board.shot(planned.id)).values())
    absent = [
        text
        for cid, character in board.characters.items()
        if cid not in planned.characters
        for text in (character.description.strip(" ."), *character.names)
    ]
    return keep, absent


def expand_graph(board: Storyboard, graph: ShotGraph, expander: Callable[[], Expander]) -> tuple[ShotGraph, ExpansionReport]:
    """Every shot's prompt expanded by ``settings.prompt_model`` (a cached answer when there is
    one), or left composed with the reason when the answer fails its checks.

    Args:
        expander: Makes the model, called only when some answer is not cached.
    """
    model = board.settings.prompt_model
    if not model:
        return graph, ExpansionReport()
    identity = model_identity(model)
    folder = cache_root() / "expansions"
    asks: dict[str, tuple[Path, list[dict[str, str]]]] = {}
    answers: dict[str, str] = {}
    for planned in graph.shots:
        composed = planned.prompt.composed or planned.prompt.prompt
        chat = messages(composed, _checks(board, planned)[0])
        key = hashlib.sha256(json.dumps([EXPANSION_VERSION, identity, chat, MAX_NEW_TOKENS]).encode()).hexdigest()
        path = folder / key[:2] / f"{key}.json"
        if (answer := read_answer(path)) is not None:
            answers[planned.id] = answer
        else:
            asks[planned.id] = (path, chat)
    if asks:
        model_answers = expander().answer([chat for _, chat in asks.values()])
        for shot_id, answer in zip(asks, model_answers):
            answers[shot_id] = answer
            write_answer(asks[shot_id][0], answer)
    shots = []
    for planned in graph.shots:
        composed = planned.prompt.composed or planned.prompt.prompt
        keep, absent = _checks(board, planned)
        problem = check_expansion(composed, answers[planned.id], keep, absent, planned.prompt.budget)
        shots.append(_expanded(planned, composed, answers[planned.id], problem))
    report = ExpansionReport(asked=len(asks), cached=len(graph.shots) - len(asks))
    return dataclasses.replace(graph, shots=tuple(shots)), report


def prompts_record(graph: ShotGraph) -> dict[str, dict[str, str | None]] | None:
    """What a storyboard version stores of its expanded prompts (None without a prompt model)."""
    record = {
        s.id: {"composed": s.prompt.composed, "prompt": s.prompt.prompt, "problem": s.prompt.expansion_problem}
        for s in graph.shots
        if s.prompt.composed is not None
    }
    return record or None


def stored_prompts(session: Session, project: str, revision: str | None, graph: ShotGraph) -> ShotGraph | None:
    """``graph`` with the prompts stored by the submission of this storyboard content
    (``revision``: its SHA-256); None when no submission stored them."""
    query = (
        select(StoryboardVersion.prompts)
        .join(Project, Project.id == StoryboardVersion.project_id)
        .where(Project.name == project, StoryboardVersion.content_hash == revision, StoryboardVersion.prompts.is_not(None))
        .order_by(StoryboardVersion.number.desc())
        .limit(1)
    )
    record = session.scalar(query) if revision else None
    if not record:
        return None
    shots = []
    for planned in graph.shots:
        stored = record.get(planned.id)
        if not stored or stored.get("composed") != planned.prompt.prompt:
            return None  # planned differently from the submission: expand again
        shots.append(_expanded(planned, stored["composed"], stored["prompt"], stored.get("problem")))
    return dataclasses.replace(graph, shots=tuple(shots))


def expand_for(board: Storyboard, graph: ShotGraph, device: str | None = None) -> tuple[ShotGraph, ExpansionReport]:
    """`expand_graph` with the real model, loaded on ``device`` (default: the storyboard's
    ``settings.device``, ``auto`` being the GPU when there is one) only if some answer is not
    cached."""
    if not board.settings.prompt_model:
        return graph, ExpansionReport()

    def load() -> Expander:
        from generation.expand import PromptExpander
        from generation.speed import resolve_device

        return PromptExpander(str(board.settings.prompt_model), resolve_device(device or board.settings.device))

    return expand_graph(board, graph, load)
