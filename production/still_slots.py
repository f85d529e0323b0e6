"""Still slots as a storyboard plans them, and where each stands in the database.

See `production.stills` for what the slots are and how they are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqlalchemy import select
from sqlalchemy.orm import Session

from shots.families import default_t2i
from shots.graph import ShotGraph, take_seed
from shots.looks import identities, look_by_key
from shots.models import Storyboard
from storage.artifacts import ArtifactStore
from storage.schema import Project, Still
from storage.stills import StillKey, key_of, project_stills
from storage.tracking import digest

SHEET_SEED_STRIDE = 7919
"""Seeds of a character's sheet views: the storyboard's seed plus this times the view's number."""


@dataclass(frozen=True)
class StillSpec:
    """One still slot as the storyboard plans it.

    Attributes:
        prompt: What a text-to-image model reads (a shot's composed prompt; a sheet's view line).
        action: What the demo world draws (a shot's own text; a character's description).
        characters: Identity keys shown (a keyframe's cast; a sheet's one character).
        view: A sheet view's number (0: the portrait identity anchors on).
    """

    kind: str
    subject: str
    role: str
    prompt: str
    action: str
    width: int
    height: int
    seed: int
    scene: str
    characters: tuple[str, ...] = ()
    view: int = 0

    @property
    def key(self) -> StillKey:
        """(kind, subject, role)."""
        return (self.kind, self.subject, self.role)

    @property
    def label(self) -> str:
        """``s01 start keyframe`` / ``will sheet (front)``."""
        return f"{self.subject} {self.role} keyframe" if self.kind == "keyframe" else f"{self.subject} sheet ({self.role})"

    def input_hash(self, model: str) -> str:
        """What makes the still's pixels (not its seed: takes differ by seed)."""
        return digest({"kind": self.kind, "role": self.role, "prompt": self.prompt, "action": self.action,
                       "model": model, "width": self.width, "height": self.height, "view": self.view})


def keyframe_model(board: Storyboard) -> str | None:
    """The text-to-image source of stills: ``settings.t2i_model``, the demo world for the
    embedded model, else None."""
    return default_t2i(board.settings.model, board.settings.t2i_model)


def sheet_prompt(board: Storyboard, description: str, view: str) -> str:
    """The line a text-to-image model reads for one view of a character's sheet."""
    style = f"{board.style.rstrip('.')}. " if board.style else ""
    return f"{style}Character sheet, {view} view: {description.rstrip('.')}, alone, on a plain grey background."


def end_prompt(prompt: str) -> str:
    """The line for a shot's end keyframe: its prompt, as the frame it closes on."""
    return f"{prompt.rstrip()} The closing frame of the shot."


def wants_end(graph: ShotGraph, index: int) -> bool:
    """Whether shot ``index`` gets an end keyframe (see the module's docstring)."""
    planned = graph.shots[index]
    if planned.end_frame == "auto":
        return True
    if planned.end_frame or not graph.spec.last_frame or index + 1 >= len(graph.shots):
        return False
    following = graph.shots[index + 1]
    return following.scene == planned.scene and following.conditioned_on is None


_PLANNED: list[tuple[Storyboard, ShotGraph, list[StillSpec]]] = []
"""The last few plans, by the identity of their storyboard and graph (a render asks once per
shot: a long film's plan is made once, not once per shot)."""


def plan_stills(board: Storyboard, graph: ShotGraph) -> list[StillSpec]:
    """Every still slot the storyboard asks for: sheets (in story order of first appearance),
    then keyframes in shot order."""
    for planned_board, planned_graph, specs in _PLANNED:
        if planned_board is board and planned_graph is graph:
            return list(specs)
    specs = _plan_stills(board, graph)
    _PLANNED.insert(0, (board, graph, specs))
    del _PLANNED[4:]
    return list(specs)


def _plan_stills(board: Storyboard, graph: ShotGraph) -> list[StillSpec]:
    specs: list[StillSpec] = []
    seen: set[str] = set()
    for planned in graph.shots:
        for key in identities(planned.characters, planned.looks).values():
            look = look_by_key(board, key)
            if key in seen or look.reference:
                continue
            seen.add(key)
            side = max(planned.width, planned.height)
            for n, view in enumerate(board.settings.sheet_views):
                specs.append(StillSpec("sheet", key, view, sheet_prompt(board, look.description, view), look.description,
                                       side, side, take_seed(board.settings.seed + n * SHEET_SEED_STRIDE, 0), planned.scene, (key,), n))
    for index, planned in enumerate(graph.shots):
        cast = tuple(identities(planned.characters, planned.looks).values())
        common = dict(width=planned.width, height=planned.height, seed=planned.seed, scene=planned.scene, characters=cast)
        if planned.conditioned_on is None and not planned.reference:
            specs.append(StillSpec("keyframe", planned.id, "start", planned.prompt.prompt, planned.prompt.action, **common))
        if wants_end(graph, index):
            specs.append(StillSpec("keyframe", planned.id, "end", end_prompt(planned.prompt.prompt), planned.prompt.action, **common))
    return specs


@dataclass(frozen=True)
class SlotState:
    """Where one slot stands: its takes now (current input hash), the one it uses, and how."""

    spec: StillSpec
    takes: tuple[Still, ...]
    stale: tuple[Still, ...]
    chosen: Still | None

    @property
    def status(self) -> str:
        """``approved``, ``passed``, ``failed`` (takes, none passed), ``rejected`` (every take
        rejected), ``stale`` (takes of an older prompt only) or ``missing``."""
        if self.chosen is not None and self.chosen.status == "approved":
            return "approved"
        if self.chosen is not None:
            return "passed" if self.chosen.passed else "failed"
        if self.takes:
            return "rejected" if all(t.status == "rejected" for t in self.takes) else "failed"
        return "stale" if self.stale else "missing"


def slot_state(spec: StillSpec, model: str, rows: list[Still]) -> SlotState:
    """The state of ``spec``'s slot from its rows: the approved current take, else the best
    current take that is not rejected."""
    wanted = spec.input_hash(model)
    current = tuple(r for r in rows if r.input_hash == wanted)
    stale = tuple(r for r in rows if r.input_hash != wanted)
    approved = [r for r in current if r.status == "approved"]
    usable = [r for r in current if r.status == "scored" and r.image_path]
    chosen = approved[-1] if approved else max(usable, key=lambda r: (bool(r.passed), r.weighted_score or 0.0, -r.attempt), default=None)
    return SlotState(spec, current, stale, chosen)


def slot_states(session: Session, project: Project | None, board: Storyboard, graph: ShotGraph,
                kind: str | None = None, subject: str | None = None) -> list[SlotState]:
    """Every planned slot's state (of one ``kind``, of one ``subject``; no project yet: every
    slot missing)."""
    model = keyframe_model(board) or ""
    rows: dict[StillKey, list[Still]] = {}
    for row in project_stills(session, project, kind, subject) if project is not None else ():
        rows.setdefault(key_of(row), []).append(row)
    return [slot_state(spec, model, rows.get(spec.key, [])) for spec in plan_stills(board, graph)
            if kind in (None, spec.kind) and subject in (None, spec.subject)]


def approved_keyframes(session: Session, project: Project | None, board: Storyboard, graph: ShotGraph,
                       shot: str | None = None) -> dict[str, dict[str, Still]]:
    """Each shot's (or one ``shot``'s) approved, current keyframes by role (``start``/``end``)."""
    found: dict[str, dict[str, Still]] = {}
    for state in slot_states(session, project, board, graph, "keyframe", shot):
        if state.status == "approved" and state.chosen is not None:
            found.setdefault(state.spec.subject, {})[state.spec.role] = state.chosen
    return found


def keyframe_digests(session: Session, name: str, board: Storyboard, graph: ShotGraph) -> dict[str, dict[str, str]]:
    """The checksums of each shot's approved keyframes (part of its input hash: approving
    another keyframe makes the shot stale)."""
    project = session.scalar(select(Project).where(Project.name == name))
    return {shot: {role: still.sha256 or "" for role, still in roles.items()}
            for shot, roles in approved_keyframes(session, project, board, graph).items()}


def still_image(store: ArtifactStore, still: Still) -> np.ndarray:
    """A still's pixels, checked against its checksum."""
    from PIL import Image

    path = store.checked_path(still.image_path, still.sha256, f"{still.subject} {still.role} still {still.attempt}")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
