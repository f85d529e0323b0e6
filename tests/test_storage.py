"""Schema, migrations, stale tracking, artifacts and CLI — on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.settings import load_settings
from production.store import project_status, submit_file, transaction
from shots.errors import Conflict, NotFound, StorageError
from storage.artifacts import ArtifactStore
from storage.db import make_engine, migrate, open_database, table_names
from storage.repo import (
    add_review,
    choose_take,
    get_project,
    get_shot,
    live_shots,
    needs_render,
)
from storage.schema import Shot, StoryboardVersion, Take
from tests.conftest import run_cli
from tests.storage_helpers import record_take

BOARD = """\
title: Chain test
settings: {model: tiny, fps: 16, steps: 2}
characters:
  ana: {description: a woman in a red coat}
scenes:
  - id: one
    shots:
      - {id: a, prompt: Ana walks, characters: [ana]}
      - {id: b, prompt: Ana stops}
      - {id: c, prompt: Ana waves}
  - id: two
    shots:
      - {id: d, prompt: A street}
      - {id: e, prompt: A car}
"""


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict:
    home = tmp_path / "home"
    board = tmp_path / "film" / "storyboard.yaml"
    board.parent.mkdir()
    board.write_text(BOARD)
    return {"settings": load_settings(home, db_url), "board": board, "url": db_url, "home": home}


def _submit(env: dict, text: str | None = None) -> dict[str, tuple[str, str | None]]:
    if text is not None:
        env["board"].write_text(text)
    _, _, _, changes = submit_file(env["settings"], env["board"], "film")
    return {c.id: (c.state, c.reason) for c in changes}


def _render_all(env: dict) -> None:
    engine = open_database(env["url"])
    store = ArtifactStore(env["home"])
    for key in "abcde":
        with transaction(engine) as s:
            record_take(s, store, "film", key)
        with transaction(engine) as s:  # choosing a take re-hashes the shots after it
            from storage.tracking import propagate

            propagate(s, get_project(s, "film"))


def test_migrations_create_the_schema_from_empty(db_url: str) -> None:
    engine = open_database(db_url, create=True)
    assert {"projects", "storyboard_versions", "shots", "takes", "scores", "reviews", "cuts", "alembic_version"} <= table_names(engine)


def test_second_migration_applies_over_existing_data(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (id, name, storyboard_path, created_at, updated_at) VALUES (1, 'old', '/x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(sa.text(
            "INSERT INTO shots (id, project_id, key, position, scene, chain, prompt, negative_prompt, model, params, inputs, input_hash, status, archived, created_at, updated_at) "
            "VALUES (1, 1, 's1', 0, 'main', 0, 'p', '', 'tiny', '{}', '{}', 'h', 'pending', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(sa.text(
            "INSERT INTO takes (id, shot_id, attempt, seed, model, params, input_hash, status, timings, created_at) "
            "VALUES (1, 1, 1, 42, 'tiny', '{}', 'h', 'scored', '{}', CURRENT_TIMESTAMP)"))
    assert "cache_skipped" not in {c["name"] for c in sa.inspect(engine).get_columns("takes")}
    migrate(engine, "head")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT seed, cache_skipped FROM takes")).one() == (42, 0.0)
        assert conn.execute(sa.text("SELECT name FROM projects")).scalar_one() == "old"
    assert "otio_path" in {c["name"] for c in sa.inspect(engine).get_columns("cuts")}


def test_leases_and_numbered_cuts_migrate_over_a_previous_database(db_url: str) -> None:
    """0003 numbers the cuts a database already has, per project and in order, and adds leases,
    requests and take owners."""
    engine = make_engine(db_url)
    migrate(engine, "0002")
    with engine.begin() as conn:
        for pid, name in ((1, "one"), (2, "two")):
            conn.execute(sa.text("INSERT INTO projects (id, name, storyboard_path, created_at, updated_at) "
                                 f"VALUES ({pid}, '{name}', '/x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        for cid, pid in ((1, 1), (2, 2), (3, 1)):
            conn.execute(sa.text("INSERT INTO cuts (id, project_id, output_path, entries, settings, frames, duration, created_at) "
                                 f"VALUES ({cid}, {pid}, 'p{cid}.mp4', '[]', '{{}}', 9, 1.0, CURRENT_TIMESTAMP)"))
    migrate(engine, "head")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, project_id, number, status FROM cuts ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 1, 1, "done"), (2, 2, 1, "done"), (3, 1, 2, "done")]
    assert {"leases", "render_requests"} <= table_names(engine)
    assert "owner" in {c["name"] for c in sa.inspect(engine).get_columns("takes")}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # one number, one cut
        conn.execute(sa.text("INSERT INTO cuts (project_id, number, status, output_path, entries, settings, frames, duration, created_at) "
                             "VALUES (1, 2, 'done', 'dup.mp4', '[]', '{}', 9, 1.0, CURRENT_TIMESTAMP)"))


def test_first_submission_then_unchanged(env: dict) -> None:
    assert _submit(env) == {k: ("new", None) for k in "abcde"}
    assert _submit(env) == {k: ("unchanged", None) for k in "abcde"}
    engine = open_database(env["url"])
    with transaction(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoryboardVersion)) == 2  # every submission kept


@pytest.mark.parametrize(
    ("edit", "stale"),
    [
        (("Ana stops", "Ana stops and turns"), {"b": "prompt changed", "c": "upstream b changed"}),
        (("steps: 2", "steps: 3"), {k: "steps changed" for k in "abcde"}),
        (("{id: d, prompt: A street}", "{id: d, prompt: A street, seed: 9}"), {"d": "seed changed", "e": "upstream d changed"}),
        (("a woman in a red coat", "a woman in a blue coat"), {"a": "prompt changed", "b": "upstream a changed", "c": "upstream b changed"}),
        (("{id: e, prompt: A car}", "{id: e, prompt: A car, steps: 5}"), {"e": "steps changed"}),
    ],
)
def test_stale_marking_per_edit(env: dict, edit: tuple[str, str], stale: dict[str, str]) -> None:
    _submit(env)
    _render_all(env)
    assert BOARD.count(edit[0]) == 1
    changes = _submit(env, BOARD.replace(*edit))
    assert {k: r for k, (state, r) in changes.items() if state == "stale"} == stale
    assert all(changes[k] == ("unchanged", None) for k in "abcde" if k not in stale)
    rows = {r["id"]: r for r in project_status(env["settings"], "film")}
    assert {k for k, r in rows.items() if r["status"] == "stale"} == set(stale)
    assert {k for k, r in rows.items() if r["current"]} == set("abcde") - set(stale)  # untouched takes kept


def test_reorder_and_removal(env: dict) -> None:
    _submit(env)
    _render_all(env)
    reordered = BOARD.replace("      - {id: b, prompt: Ana stops}\n      - {id: c, prompt: Ana waves}\n", "      - {id: c, prompt: Ana waves}\n      - {id: b, prompt: Ana stops}\n")
    changes = _submit(env, reordered)
    assert changes["c"] == ("stale", "conditioning shot changed")  # now follows a, not b
    assert changes["b"] == ("stale", "conditioning shot changed")
    assert changes["a"][0] == changes["d"][0] == "unchanged"
    removed = reordered.replace("      - {id: e, prompt: A car}\n", "")
    changes = _submit(env, removed)
    assert changes["e"] == ("removed", None)
    engine = open_database(env["url"])
    with transaction(engine) as s:
        project = get_project(s, "film")
        assert [x.key for x in live_shots(s, project)] == ["a", "c", "b", "d"]
        archived = s.scalar(sa.select(Take).join(Shot, Take.shot_id == Shot.id).where(Shot.key == "e"))
        assert archived is not None  # archived, not deleted: its takes remain
    assert _submit(env, reordered)["e"] == ("new", None)  # brought back


def test_upstream_take_change_makes_the_chain_stale(env: dict) -> None:
    _submit(env)
    _render_all(env)
    engine = open_database(env["url"])
    store = ArtifactStore(env["home"])
    from storage.tracking import propagate

    with transaction(engine) as s:
        record_take(s, store, "film", "a", seed=99)  # a re-rendered: a new chosen take
        result = propagate(s, get_project(s, "film"))
    assert {k for k, (state, _) in result.items() if state == "stale"} == {"b", "c"}
    assert result["b"][1] == "upstream a has a new take"
    assert result["c"][1] == "upstream b changed"
    with transaction(engine) as s:
        shots = {x.key: x for x in live_shots(s, get_project(s, "film"))}
        assert [k for k, x in shots.items() if needs_render(x)] == ["b", "c"]


def test_transitions_and_reviews_are_checked(env: dict) -> None:
    _submit(env)
    _render_all(env)
    engine = open_database(env["url"])
    with transaction(engine) as s:
        project = get_project(s, "film")
        a, b = get_shot(s, project, "a"), get_shot(s, project, "b")
        with pytest.raises(Conflict, match="belongs to another shot"):
            choose_take(a, b.chosen_take, "manual")
        add_review(s, a, "approve", notes="lovely", reviewer="ed")
        assert a.status == "approved"
        add_review(s, b, "reject")
        assert b.status == "rejected" and b.chosen_take_id is None and needs_render(b)  # rendered anew next time
        with pytest.raises(Conflict, match="decision 'maybe'"):
            add_review(s, a, "maybe")
        with pytest.raises(NotFound, match="has no shot 'zz'; its shots: a, b, c, d, e"):
            get_shot(s, project, "zz")


def test_missing_or_changed_media_is_reported(env: dict) -> None:
    _submit(env)
    _render_all(env)
    store = ArtifactStore(env["home"])
    rows = {r["id"]: r for r in project_status(env["settings"], "film")}
    assert rows["a"]["media"] == "ok"
    store.path(rows["a"]["video"]).write_bytes(b"tampered")
    store.path(rows["b"]["video"]).unlink()
    rows = {r["id"]: r for r in project_status(env["settings"], "film")}
    assert rows["a"]["media"] == "video changed"
    assert rows["b"]["media"] == "video missing"


def test_artifact_writes_are_atomic(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    files = store.take_files("p", "s1", 1)
    staged = store.staging("p") / "half.mp4"
    staged.write_bytes(b"partial")  # the process dies here, before put(): nothing is visible
    assert store.verify(files.video, None) == "missing"
    assert not store.path(files.video).exists()
    sha = store.put(staged, files.video)
    assert store.verify(files.video, sha) == "ok" and not staged.exists()
    assert store.clean_staging("p") == 0
    assert store.checked_path(files.video, sha, "take 1 of shot s1") == store.path(files.video)
    store.path(files.video).write_bytes(b"edited")
    with pytest.raises(StorageError, match="take 1 of shot s1 is changed in the artifact store"):
        store.checked_path(files.video, sha, "take 1 of shot s1")
    with pytest.raises(StorageError, match="outside the media home"):
        store.path("../etc/passwd")
    with pytest.raises(StorageError, match="cannot be used in a file name"):
        store.take_files("p", "../x", 1)


def _writer(url: str, home: str, seed0: int, n: int) -> None:
    from production.store import transaction
    from storage.artifacts import ArtifactStore
    from storage.db import open_database
    from tests.storage_helpers import record_take

    engine = open_database(url)
    for i in range(n):
        with transaction(engine) as s:
            record_take(s, ArtifactStore(Path(home)), "film", "a", seed=seed0 + i, choose=False)


def test_concurrent_writers_lose_no_update(env: dict) -> None:
    _submit(env)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(env["url"], str(env["home"]), k * 1000, 8)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    engine = open_database(env["url"])
    with transaction(engine) as s:
        takes = get_shot(s, get_project(s, "film"), "a").takes
        assert sorted(t.attempt for t in takes) == list(range(1, 17))
        assert sorted(t.seed for t in takes) == sorted([*range(0, 8), *range(1000, 1008)])


def test_status_json_and_cli_errors(env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYREEL_DATABASE_URL", env["url"])
    code, out, err = run_cli("submit", str(env["board"]), "--project", "film", "--home", str(env["home"]), "--json")
    assert code == 0, err
    assert json.loads(out)[0] == {"id": "a", "state": "new", "reason": None}
    code, out, _ = run_cli("status", "film", "--home", str(env["home"]), "--json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == list("abcde")
    assert {"status", "chosen_take", "scores", "stale", "stale_reason", "takes", "gpu_seconds"} <= set(rows[1])
    code, _, err = run_cli("status", "nope", "--home", str(env["home"]))
    assert code == 2 and "unknown project 'nope'; known projects: film" in err
    monkeypatch.setenv("STORYREEL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, out, err = run_cli("projects")
    assert code == 1 and err.count("\n") == 1 and err.startswith("Error: cannot connect to database") and "Traceback" not in err


def test_remote_store_shares_media_between_homes(tmp_path: Path) -> None:
    remote = (tmp_path / "bucket").as_uri()
    writer = ArtifactStore(tmp_path / "host-a", remote)
    reader = ArtifactStore(tmp_path / "host-b", remote)
    files = writer.take_files("film", "s01", 1)
    staged = writer.staging("film") / "x.mp4"
    staged.write_bytes(b"frames")
    sha = writer.put(staged, files.video)
    assert (tmp_path / "bucket" / "film" / "takes" / "s01" / "take-001.mp4").read_bytes() == b"frames"
    assert not reader.local(files.video).exists()
    assert reader.verify(files.video, sha) == "ok"  # fetched from the store into host-b's cache
    assert reader.local(files.video).read_bytes() == b"frames"
    assert reader.verify(writer.take_files("film", "s02", 1).video, None) == "missing"
    with pytest.raises(StorageError, match="cannot be used"):
        ArtifactStore(tmp_path, "nosuchscheme://x/y").path("film/a.mp4")


def test_anchors_migrate_over_a_database_of_the_previous_schema(db_url: str) -> None:
    """0004 adds the anchors table to a database made at 0003, its rows untouched."""
    engine = make_engine(db_url)
    migrate(engine, "0003")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (id, name, storyboard_path, created_at, updated_at) VALUES (1, 'old', '/x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    assert "anchors" not in table_names(engine)
    migrate(engine, "head")
    assert "anchors" in table_names(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO anchors (project_id, character, source, image_path, sha256, set_by, created_at) "
                             "VALUES (1, 'red', 'take', 'old/anchors/red.png', 'abc', 'auto', CURRENT_TIMESTAMP)"))
        assert conn.execute(sa.text("SELECT name FROM projects")).scalar_one() == "old"


def test_one_engine_per_database_and_a_deleted_file_is_made_anew(tmp_path: Path) -> None:
    """A process opens each database once (one pool, however many commands ask); a SQLite file
    deleted since is made again, migrated, not written through the old pool into the deleted file."""
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first = open_database(url, create=True)
    assert open_database(url) is first and load_settings(tmp_path, url).database() is first
    (tmp_path / "one.db").unlink()
    with pytest.raises(NotFound):
        open_database(url)
    again = open_database(url, create=True)
    assert again is not first and "shots" in table_names(again) and (tmp_path / "one.db").is_file()
