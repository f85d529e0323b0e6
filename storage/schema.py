"""The SQL schema (SQLAlchemy 2.0 typed ORM). Changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(timezone.utc)


IntPk = Annotated[int, mapped_column(primary_key=True)]
Created = Annotated[datetime, mapped_column(default=utcnow)]
Json = Annotated[Any, mapped_column(JSON, default=dict)]
Hash = Annotated[str, mapped_column(String(64))]
Key = Annotated[str, mapped_column(String(128))]

SHOT_STATUSES = ("pending", "rendering", "scored", "approved", "rejected", "failed", "stale")
TAKE_STATUSES = ("rendering", "rendered", "scored", "failed", "lost")
"""``lost``: the take's file went missing or changed after it was chosen (kept in history)."""
CUT_STATUSES = ("writing", "done", "failed")
REQUEST_STATUSES = ("queued", "taken", "done", "failed")
DECISIONS = ("approve", "reject", "reroll")
STILL_KINDS = ("keyframe", "sheet")
STILL_STATUSES = ("scored", "failed", "approved", "rejected")


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    type_annotation_map = {datetime: DateTime(timezone=True)}
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Project(Base):
    """A storyboard being made into a film."""

    __tablename__ = "projects"
    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(128), unique=True)
    storyboard_path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[StoryboardVersion]] = relationship(back_populates="project", order_by="StoryboardVersion.number")
    shots: Mapped[list[Shot]] = relationship(back_populates="project", order_by="Shot.position")


class StoryboardVersion(Base):
    """One submission of a storyboard; every submission is kept."""

    __tablename__ = "storyboard_versions"
    __table_args__ = (UniqueConstraint("project_id", "number"),)
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    content_hash: Mapped[Hash]
    source_path: Mapped[str] = mapped_column(Text)
    parsed: Mapped[Json]
    # With a prompt model: {shot: {composed, prompt, problem}}, the prompts this version renders.
    prompts: Mapped[Any | None] = mapped_column(JSON, nullable=True, default=None)
    submitted_at: Mapped[Created]

    project: Mapped[Project] = relationship(back_populates="versions")


class Shot(Base):
    """A shot of a project, identified by its storyboard id (``key``).

    ``inputs`` holds the shot's own render inputs; ``input_hash`` also covers the shot that
    conditions it and that shot's chosen take, so an upstream change makes it stale.
    """

    __tablename__ = "shots"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[Key]
    position: Mapped[int]
    scene: Mapped[Key]
    chain: Mapped[int] = mapped_column(default=0)
    conditioned_on: Mapped[str | None] = mapped_column(String(128))
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(Text)
    params: Mapped[Json]
    inputs: Mapped[Json]
    input_hash: Mapped[Hash]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stale_reason: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(default=False)
    chosen_take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", use_alter=True, ondelete="SET NULL")
    )
    version_id: Mapped[int | None] = mapped_column(ForeignKey("storyboard_versions.id"))
    created_at: Mapped[Created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(back_populates="shots")
    takes: Mapped[list[Take]] = relationship(
        back_populates="shot", foreign_keys="Take.shot_id", order_by="Take.attempt"
    )
    chosen_take: Mapped[Take | None] = relationship(foreign_keys=[chosen_take_id], post_update=True)


class Take(Base):
    """One render of a shot: its seed, parameters, media, timings and outcome."""

    __tablename__ = "takes"
    __table_args__ = (UniqueConstraint("shot_id", "attempt"),)
    id: Mapped[IntPk]
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    seed: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str] = mapped_column(Text)
    params: Mapped[Json]
    input_hash: Mapped[Hash]
    status: Mapped[str] = mapped_column(String(16), default="rendering")
    media_path: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    last_frame_path: Mapped[str | None] = mapped_column(Text)
    last_frame_sha256: Mapped[str | None] = mapped_column(String(64))
    sheet_path: Mapped[str | None] = mapped_column(Text)
    sheet_sha256: Mapped[str | None] = mapped_column(String(64))
    frame_count: Mapped[int | None]
    fps: Mapped[float | None]
    timings: Mapped[Json]
    device: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    passed: Mapped[bool | None]
    weighted_score: Mapped[float | None]
    cache_skipped: Mapped[float] = mapped_column(default=0.0)  # added by migration 0002
    chosen_reason: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64))  # lease token of the render making it (0003)
    created_at: Mapped[Created]

    shot: Mapped[Shot] = relationship(back_populates="takes", foreign_keys=[shot_id])
    scores: Mapped[list[Score]] = relationship(back_populates="take", order_by="Score.metric")


class Score(Base):
    """One metric of one take."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("take_id", "metric"),)
    id: Mapped[IntPk]
    take_id: Mapped[int] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float]
    threshold: Mapped[float | None]
    passed: Mapped[bool | None]
    details: Mapped[Json]

    take: Mapped[Take] = relationship(back_populates="scores")


class Review(Base):
    """A person's decision on a shot (and the take they looked at)."""

    __tablename__ = "reviews"
    id: Mapped[IntPk]
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"))
    take_id: Mapped[int | None] = mapped_column(ForeignKey("takes.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(128), default="")
    changes: Mapped[Json]
    created_at: Mapped[Created]


class Cut(Base):
    """An exported cut: which take of which shot, where, with what transitions.

    Its ``number`` (and so its file name) is allocated by inserting the row, unique per
    project; the file is written to staging and renamed into place after the row exists
    (``writing`` → ``done``).
    """

    __tablename__ = "cuts"
    __table_args__ = (UniqueConstraint("project_id", "number"),)
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]  # 0003
    status: Mapped[str] = mapped_column(String(16), default="done")  # 0003
    owner: Mapped[str | None] = mapped_column(String(64))  # 0003
    output_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    entries: Mapped[Json]
    settings: Mapped[Json]
    frames: Mapped[int]
    duration: Mapped[float]
    otio_path: Mapped[str | None] = mapped_column(Text)  # added by migration 0002
    created_at: Mapped[Created]


class Lease(Base):
    """Who works on a project (``scope`` ``project``) or one of its shots (``shot:<key>``) now.

    A holder renews ``expires_at`` while it works (a heartbeat); a lease past its expiry, or
    one whose holder process on this host is gone, may be taken over. ``token`` identifies the
    holder everywhere it writes (takes, staging folders, cuts).
    """

    __tablename__ = "leases"
    __table_args__ = (UniqueConstraint("project_id", "scope"),)
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scope: Mapped[Key]
    token: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255))  # host:pid
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    pid_start: Mapped[int | None] = mapped_column(BigInteger)  # the process's start time, against pid reuse
    purpose: Mapped[str] = mapped_column(String(32), default="render")
    acquired_at: Mapped[Created]
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class RenderRequest(Base):
    """A re-render asked for while a render holds the project: that render takes it."""

    __tablename__ = "render_requests"
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    shot_key: Mapped[Key]
    seed: Mapped[int | None] = mapped_column(BigInteger)
    prompt: Mapped[str | None] = mapped_column(Text)
    cascade: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    taken_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[Json]
    created_at: Mapped[Created]


class Anchor(Base):
    """A character's identity anchor: the image its identity is judged against in every shot.

    ``source`` ``reference``: the character's reference image (``reference``, a path in the
    storyboard's folder); ``take``: frame ``frame`` of take ``take_id`` (its region ``box``,
    given by a person or found by the scorer). ``image_path`` is the anchor's portrait in the
    artifact store and ``sha256`` its checksum; identity scores record it, so replacing an
    anchor re-scores what was judged against the old one. A replaced anchor stays, with
    ``replaced_at`` set.
    """

    __tablename__ = "anchors"
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    character: Mapped[Key]
    source: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(Text)
    take_id: Mapped[int | None] = mapped_column(ForeignKey("takes.id", ondelete="SET NULL"))
    frame: Mapped[int | None]
    box: Mapped[Any] = mapped_column(JSON, nullable=True)
    image_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[Hash]
    set_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[Created]
    replaced_at: Mapped[datetime | None]

    take: Mapped[Take | None] = relationship(foreign_keys=[take_id])


class Still(Base):
    """A generated still: a shot's start or end keyframe (``kind`` keyframe, ``subject`` the
    shot, ``role`` start/end), or one view of a character's sheet (``kind`` sheet, ``subject``
    the identity key ``will`` / ``will@sc12``, ``role`` the view). Numbered per (kind, subject,
    role) like takes; ``input_hash`` covers what makes its pixels (prompt, model, size), so a
    still whose hash is not the storyboard's current one is stale. A person approves or rejects
    it (``reviewer``, ``notes``, ``decided_at``).
    """

    __tablename__ = "stills"
    __table_args__ = (UniqueConstraint("project_id", "kind", "subject", "role", "attempt"),)
    id: Mapped[IntPk]
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[Key]
    role: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int]
    seed: Mapped[int] = mapped_column(BigInteger)
    prompt: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    input_hash: Mapped[Hash]
    status: Mapped[str] = mapped_column(String(16), default="scored")
    image_path: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    scores: Mapped[Json]
    passed: Mapped[bool | None]
    weighted_score: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(default=0.0)
    reviewer: Mapped[str] = mapped_column(String(128), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
    created_at: Mapped[Created]


Index("ix_takes_shot_status", Take.shot_id, Take.status)
Index("ix_anchors_project_character", Anchor.project_id, Anchor.character)
Index("ix_stills_project_subject", Still.project_id, Still.kind, Still.subject)
