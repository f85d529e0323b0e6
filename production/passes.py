"""Draft and final passes.

``render --pass draft`` renders every shot with the storyboard's ``draft:`` settings into the
project ``<name>.draft`` (its own shots, takes, reviews and cut; the keyframes and sheets are
``<name>``'s). ``render --pass final`` re-renders into ``<name>`` the drafts a person approved
— or, for drafts rendered without review, that passed their checks — with the full settings,
each shot with its draft's seed and the same approved keyframes, and judges each final take
against its draft (``draft``: a final that drifts from its draft fails, and the render says so).
"""

from __future__ import annotations

from production.config import DRAFT_SUFFIX, AppSettings
from production.store import transaction
from shots.errors import ConfigError, NotFound
from shots.graph import ShotGraph
from storage.repo import get_project, is_current, live_shots


def draft_project(name: str) -> str:
    """The project of ``name``'s draft pass."""
    return f"{name}{DRAFT_SUFFIX}"


def draft_seeds(settings: AppSettings, name: str, graph: ShotGraph) -> dict[str, int]:
    """Each shot's seed in its accepted draft take (approved, or chosen and passing).

    Raises:
        ConfigError: No draft pass yet, or shots whose draft is not accepted (named).
    """
    try:
        engine = settings.database()
        with transaction(engine) as session:
            shots = {s.key: s for s in live_shots(session, get_project(session, draft_project(name)))}
            seeds, waiting = {}, []
            for planned in graph.shots:
                shot = shots.get(planned.id)
                take = shot.chosen_take if shot is not None and is_current(shot) else None
                if take is None or not (shot.status == "approved" or take.passed):
                    waiting.append(f"{planned.id} ({shot.status if shot is not None else 'not rendered'})")
                    continue
                seeds[planned.id] = take.seed
    except NotFound:
        raise ConfigError(f"--pass final re-renders the approved drafts, and {name!r} has no draft pass yet: "
                          "run `storyreel render STORYBOARD --pass draft` first") from None
    if waiting:
        raise ConfigError(f"--pass final: these shots have no approved or passing draft: {', '.join(waiting[:20])}"
                          f"{' …' if len(waiting) > 20 else ''}; review the draft project {draft_project(name)!r} first")
    return seeds
