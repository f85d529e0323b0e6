"""Everything a render run needs, built once per process from a small job description.

Flow and task parameters stay small (a `RenderJob`: paths and ids); each process turns the
job into a `RenderContext` — parsed storyboard, shot graph, engine, store, load options —
once, and every task in that process reuses it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from production.lm_breakdown import load_screenplay
from production.config import DRAFT_SUFFIX, AppSettings
from production.slots import Slot, local_slot
from generation.types import LoadOptions
from shots.errors import ConfigError
from shots.families import spec_for_model
from shots.graph import ShotGraph, plan_storyboard
from shots.models import Settings, Storyboard
from storage.artifacts import ArtifactStore  # noqa: F401  (the type of RenderContext.store)


class RenderJob(BaseModel):
    """The parameters of a render flow run (small and JSON: never frames)."""

    model_config = ConfigDict(frozen=True)

    storyboard: str
    project: str
    home: str
    database_url: str
    model: str | None = None
    only: tuple[str, ...] = ()
    force: bool = False
    seed: int | None = None
    prompt: str | None = None
    cascade: bool = False
    review: str = "off"  # off | shot | batch
    review_timeout: int = 3600
    review_poll: int = 5
    reviewer: str = ""  # prefilled in review forms (--reviewer, $STORYREEL_REVIEWER)
    media_url: str | None = None
    workers: bool = False  # submit shots to task workers when any is running
    results_url: str | None = None
    export: bool = True
    revision: str = ""  # SHA-256 of the storyboard file when the run started
    overrides: tuple[tuple[str, str], ...] = ()  # settings from the command line (speed knobs)
    lease_token: str | None = None  # the project lease the caller holds (else the flow takes one)
    prepared: bool = False  # the caller already submitted and healed the project (`production.runs.prepare`)
    wait: bool = False  # wait for a busy project instead of refusing
    # The identity anchors this run judges against ((character, sha256) pairs), fixed when it
    # starts: anchors frozen during the run judge its takes at its end, in story order, so the
    # takes a run makes never depend on which chain finished first.
    anchors: tuple[tuple[str, str], ...] = ()
    # Passes: ``draft`` renders with the storyboard's ``draft:`` settings into the project
    # ``<name>.draft``; ``final`` re-renders the approved drafts with the full settings, each
    # shot with its draft's seed (``seeds``). Stills (keyframes, sheets) are the main project's.
    pass_name: str = ""
    stills_project: str | None = None
    seeds: tuple[tuple[str, int], ...] = ()
    draft_project: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _draft_projects_are_drafts(cls, data: Any) -> Any:
        """Every job on a ``<name>.draft`` project is of the draft pass (a re-render, a
        review's re-roll, a worker's shot), with ``<name>``'s stills."""
        if isinstance(data, dict) and str(data.get("project", "")).endswith(DRAFT_SUFFIX) and not data.get("pass_name"):
            data = {**data, "pass_name": "draft", "stills_project": data["project"][: -len(DRAFT_SUFFIX)]}
        return data


@dataclass
class RenderContext:
    """A job resolved in this process."""

    job: RenderJob
    settings: AppSettings
    board: Storyboard
    graph: ShotGraph
    engine: Engine
    store: ArtifactStore
    model_dir: str
    degraded: bool = False  # set after CUDA OOM: retries use VAE tiling and the next memory mode down
    memory_override: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    gpu_slot: Slot = local_slot  # held around each pipeline call; flows pass one bounding processes too

    @property
    def stills_project(self) -> str:
        """The project whose keyframes and sheets this render uses (a draft's: its film's)."""
        return self.job.stills_project or self.job.project

    @property
    def base_dir(self) -> Path:
        """The storyboard's folder (references and audio are relative to it)."""
        return Path(self.job.storyboard).resolve().parent

    def load_options(self) -> LoadOptions:
        """Load-time knobs from the storyboard settings (plus the OOM fallback)."""
        s = self.board.settings
        device = self.settings.device or s.device  # a worker's --device wins
        return LoadOptions(
            device=device,
            dtype=s.dtype,
            cache=s.cache,
            compile=s.compile,
            vae_tiling=s.vae_tiling or self.degraded,
            memory=self.memory_override or memory_mode(s),
        )

    def degrade(self, loaded_with: str | None) -> None:
        """After a CUDA out-of-memory error: the next load tiles the VAE and takes the next
        memory mode down the ladder (`generation.memory.step_down`)."""
        from generation.memory import step_down

        self.degraded = True
        if loaded_with is not None:
            self.memory_override = step_down(loaded_with, self.load_options().device) or loaded_with

    def scorer(self) -> str:
        """The scorer spec, with ``tiny`` resolved (`AppSettings.resolve_scorer`)."""
        return self.settings.resolve_scorer(self.board.settings.scorer)


_CONTEXTS: dict[RenderJob, RenderContext] = {}
_GUARD = threading.Lock()


def memory_mode(settings: Settings) -> str:
    """``settings.memory``, with ``cpu_offload: true`` read as its old name for ``model_offload``."""
    return "model_offload" if settings.cpu_offload and settings.memory == "auto" else settings.memory


def board_for(job: RenderJob) -> Storyboard:
    """The job's storyboard with any ``--model`` override applied."""
    board, _ = load_screenplay(job.storyboard)  # a breakdown model's answers come from the cache
    changes: dict[str, Any] = {}
    if job.pass_name == "draft" and board.settings.draft is not None:
        changes.update(board.settings.draft.model_dump(exclude_none=True))
    if job.pass_name == "final":
        changes["max_takes"] = 1  # a final re-renders its approved draft's seed: no re-roll
    changes.update(job.overrides)
    if job.model:
        changes["model"] = job.model
    if changes:
        settings = apply_overrides(board.settings, changes)
        board = board.model_copy(update={"settings": settings})
    return board


def apply_overrides(settings: Settings, changes: dict[str, Any]) -> Settings:
    """Settings with command-line values applied and validated like the storyboard's."""
    try:
        return Settings.model_validate({**settings.model_dump(), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--{str(first['loc'][0]).replace('_', '-')} {first['input']!r}: {first['msg']}") from None


def preflight(job: RenderJob, settings: AppSettings) -> Storyboard:
    """Refuse, before any flow runs, a storyboard whose model, device, knobs or scorer cannot work here."""
    from consistency.embedder import check_scorer
    from generation.loading import inspect_model_dir
    from generation.speed import attention_scope, resolve_device, resolve_dtype

    board = board_for(job)
    s = board.settings
    device = resolve_device(settings.device or s.device)
    resolve_dtype(s.dtype, device)
    from generation.memory import choose_memory

    choose_memory(memory_mode(s), device, 0, None)  # a mode this device cannot run is refused here
    if s.model != "tiny" and (Path(s.model).expanduser().exists() or s.model.startswith((".", "/", "~"))):
        inspect_model_dir(s.model)
    if s.t2i_model and not (Path(s.t2i_model).expanduser() / "model_index.json").is_file():
        raise ConfigError(f"t2i_model {s.t2i_model!r} is not a diffusers pipeline directory")
    for chat_model in (s.prompt_model, s.breakdown_model):
        if chat_model:
            from generation.expand import check_prompt_model

            check_prompt_model(chat_model)
    with attention_scope(s.attention_backend):  # an unknown or unusable backend is refused here
        pass
    if s.scorer != "tiny":
        check_scorer(s.scorer)
    _check_images(board, Path(job.storyboard))
    from production.loras import check_loras

    check_loras(board, Path(job.storyboard), settings.home)
    return board


def _check_images(board: Storyboard, storyboard: Path) -> None:
    """Every reference image must open as an image (existence was checked at parse time)."""
    from PIL import Image, UnidentifiedImageError

    from shots.checks import resolve_asset
    from shots.errors import StoryboardError

    refs = [(f"characters.{cid}.reference", c.reference) for cid, c in board.characters.items() if c.reference]
    refs += [(f"shots.{shot.id}.reference", shot.reference) for _, shot in board.shot_list() if shot.reference]
    for where, relative in refs:
        try:
            with Image.open(resolve_asset(storyboard.parent, relative)) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise StoryboardError(f"reference image {relative!r} cannot be read: {exc}", file=str(storyboard), field=where) from None


def with_revision(job: RenderJob) -> RenderJob:
    """The job pinned to the storyboard's current content (an edited file is a new context)."""
    import hashlib

    digest = hashlib.sha256(Path(job.storyboard).read_bytes()).hexdigest()
    return job.model_copy(update={"revision": digest})


def _with_expansions(engine: Engine, job: RenderJob, board: Storyboard, graph: ShotGraph, device: str | None) -> ShotGraph:
    """The graph with the expanded prompts its submission stored (a worker on another host needs
    no prompt model), else expanded here."""
    from production.expansion import expand_for, stored_prompts

    with Session(engine) as session:
        stored = stored_prompts(session, job.project, job.revision, graph)
    return stored if stored is not None else expand_for(board, graph, device)[0]


def planned_graph(settings: AppSettings, board: Storyboard) -> ShotGraph:
    """The storyboard planned for the family of the model it names (the embedded one's rules
    for ``tiny``)."""
    model_dir = settings.resolve_model(board.settings.model)
    return plan_storyboard(board, spec_for_model(model_dir) if board.settings.model != "tiny" else None)


def with_seeds(graph: ShotGraph, seeds: dict[str, int]) -> ShotGraph:
    """The graph with these shots' base seeds replaced (a final pass: its drafts' seeds)."""
    import dataclasses

    shots = tuple(dataclasses.replace(p, seed=seeds[p.id]) if p.id in seeds else p for p in graph.shots)
    return dataclasses.replace(graph, shots=shots)


def context_for(job: RenderJob, settings: AppSettings, gpu_slot: Slot = local_slot) -> RenderContext:
    """The process-wide context of ``job`` (built on first use) with ``settings`` (a worker on
    another host passes its own home: it caches media there, the store URL links them)."""
    with _GUARD:
        if job not in _CONTEXTS:
            board = board_for(job)
            model_dir = settings.resolve_model(board.settings.model)
            graph = planned_graph(settings, board)
            if job.seeds:
                graph = with_seeds(graph, dict(job.seeds))
            engine = settings.database(create=True)
            if board.settings.prompt_model:
                graph = _with_expansions(engine, job, board, graph, settings.device)
            _CONTEXTS[job] = RenderContext(
                job=job,
                settings=settings,
                board=board,
                graph=graph,
                engine=engine,
                store=settings.artifacts(),
                model_dir=model_dir,
                gpu_slot=gpu_slot,
            )
        return _CONTEXTS[job]
