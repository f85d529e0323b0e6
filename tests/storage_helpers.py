"""Recording takes without a model, for tests of storage logic only."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from storage.artifacts import ArtifactStore
from storage.repo import (
    StoredMedia,
    add_scores,
    add_take,
    choose_take,
    finish_take,
    get_project,
    get_shot,
    set_status,
)
from storage.schema import Take


def record_take(session: Session, store: ArtifactStore, project: str, key: str, seed: int = 1, choose: bool = True, passed: bool = True) -> Take:
    """A scored take with small real files in the artifact store."""
    shot = get_shot(session, get_project(session, project), key)
    take = add_take(session, shot, seed, shot.model, shot.params)
    files = store.take_files(project, key, take.attempt)
    stored = []
    for rel, payload in ((files.video, b"video"), (files.last_frame, b"png"), (files.sheet, b"sheet")):
        tmp = store.staging(project) / f"{key}-{take.attempt}-{Path(rel).name}"
        tmp.write_bytes(payload + str(seed).encode())
        stored.append(store.put(tmp, rel))
    finish_take(take, StoredMedia(files.video, stored[0], files.last_frame, stored[1], files.sheet, stored[2]), 17, 16, {"denoise": 1.5, "decode": 0.5}, "cpu")
    add_scores(session, take, [{"metric": "temporal", "value": 0.9, "threshold": 0.8, "passed": passed}], passed, 0.9)
    if choose:
        choose_take(shot, take, "passed")
        set_status(shot, "scored")
    return take
