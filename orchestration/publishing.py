"""Publish the marts as a new version of the serving file, behind an atomically swapped link.

Each publication is a new file ``serving/<name>-<publication>.duckdb`` beside the serving path
(``warehouse/serving/kson-20260526T020312123456Z-1a2b3c.duckdb``), written in an older DuckDB
storage version so that BI connectors bundling DuckDB 1.x open it. The serving path
(``warehouse/kson.duckdb``) is a symbolic link to the current version, replaced in one atomic
step (a new link renamed over it). DuckDB keeps one database instance per resolved file path in
a process, so a connection opened after the swap gets the new file even in a process that
still holds connections to the old one; those keep reading the version they opened. Nobody
sees a half-written file, and the pipeline holds no lock on the serving file. The last few
versions are kept (never the current one); a publish removes what a killed one left.

Each publication can also be exported (orchestration/exports.py): Parquet and CSV of its marts
in ``exports/<publication>/`` beside the serving path, written from the new version before
its link is swapped; ``exports/current``, a link swapped the same way right after the serving
path's, points at the same publication. Export folders are pruned with their versions.

Per mart: a mart whose checks passed is copied from the build database (``current``); one
whose checks failed keeps the version of the previous publication, copied from it (``stale``).
``meta.publication`` has a row per mart: its status, the run and publication its data comes
from, when that version was published, and the failing checks.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.validation import sql_literal
from orchestration.exports import Suppression, write_exports
from orchestration.quality import publish_dq_results

DEFAULT_KEEP = 3

PUBLICATION_DDL = """
CREATE TABLE serving.meta.publication (
    mart VARCHAR NOT NULL PRIMARY KEY,
    status VARCHAR NOT NULL,          -- current: this run's version; stale: an earlier one
    row_count BIGINT,                 -- null when no version was ever published
    run_id VARCHAR,                   -- the run whose data the table holds
    published_at TIMESTAMPTZ,         -- when that version was first published
    publication VARCHAR,              -- the publication (serving/<name>-<publication>.duckdb)
    failing_checks VARCHAR[] NOT NULL,
    reason VARCHAR                    -- why this run's version is not published
)
"""


@dataclass(frozen=True)
class Verdict:
    """Whether this run's version of a mart is published, and if not, why."""

    mart: str
    failing_checks: tuple[str, ...] = ()
    reason: str | None = None  # None: published
    # Not part of this run: its published version stays, with its status (``reason``: None
    # when that is current).
    kept: bool = False

    @property
    def current(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Publication:
    id: str
    path: Path
    rows: dict[str, int]  # marts in the file
    stale: dict[str, str]  # mart -> reason


def serving_dir(serving_db: Path) -> Path:
    return serving_db.parent / "serving"


def exports_dir(serving_db: Path) -> Path:
    return serving_db.parent / "exports"


def publish_marts(
    build_db: Path,
    serving_db: Path,
    verdicts: Sequence[Verdict],
    storage_version: str,
    run_id: str = "",
    keep: int = DEFAULT_KEEP,
    exports: Suppression | None = None,
) -> Publication:
    """Write a new version of the serving file and point the serving path at it.

    Current marts come from ``build_db``; stale ones from the version the serving path points
    at (absent when it has none), and kept ones too, with their publication row. Table and
    column comments (the dbt docs) travel along.
    With ``exports`` (the small-cell columns per mart), the version's marts are exported too.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the current version), not {keep}")
    versions = serving_dir(serving_db)
    versions.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(serving_db)
    previous = _adopt_regular_file(serving_db)
    now = datetime.now(UTC)
    publication = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    path = versions / f"{serving_db.stem}-{publication}.duckdb"
    staged = path.with_name(f".{path.name}.publishing")
    rows: dict[str, int] = {}
    stale: dict[str, str] = {}
    try:
        with duckdb.connect() as con:
            con.execute(f"ATTACH {sql_literal(str(build_db))} AS build (READ_ONLY)")
            earlier: dict[str, tuple] = {}
            earlier_tables: set[str] = set()
            statuses: dict[str, tuple] = {}
            if previous is not None:
                con.execute(f"ATTACH {sql_literal(str(previous))} AS previous (READ_ONLY)")
                earlier = _published_versions(con, publication_id(serving_db, previous))
                earlier_tables = _tables(con, "previous")
                statuses = _published_statuses(con)
            con.execute(
                f"ATTACH {sql_literal(str(staged))} AS serving "
                f"(STORAGE_VERSION {sql_literal(storage_version)})"
            )
            con.execute("CREATE SCHEMA serving.marts; CREATE SCHEMA serving.meta")
            con.execute(PUBLICATION_DDL)
            for verdict in verdicts:
                table = verdict.mart
                status = "current" if verdict.current else "stale"
                failing, reason = list(verdict.failing_checks), verdict.reason
                if verdict.kept and (table in earlier_tables or table in statuses):
                    source = "previous" if table in earlier_tables else None
                    version = earlier.get(table, (None, None, None))
                    status, failing, reason = statuses.get(table, ("current", [], None))
                elif verdict.current:
                    source, version = "build", (run_id, now, publication)
                else:
                    source = "previous" if table in earlier_tables else None
                    version = earlier.get(table, (None, None, None))
                if status == "stale":
                    stale[table] = reason or ""
                if source is not None:
                    con.execute(
                        f"CREATE TABLE serving.marts.{table} AS "
                        f"SELECT * FROM {source}.marts.{table}"
                    )
                    [(rows[table],)] = con.execute(
                        f"SELECT count(*) FROM serving.marts.{table}"
                    ).fetchall()
                    _copy_comments(con, source, table)
                con.execute(
                    "INSERT INTO serving.meta.publication VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [table, status, rows.get(table), *version, failing, reason],
                )
            publish_dq_results(con, "build", "serving")  # history: always current
            con.execute("DETACH serving")
        fsync_file(staged)
        os.replace(staged, path)
        fsync_file(versions)
    finally:
        staged.unlink(missing_ok=True)
        staged.with_name(staged.name + ".wal").unlink(missing_ok=True)
    exported = exports_dir(serving_db) / publication
    if exports is not None:
        staged_exports = exported.with_name(f".{publication}.exporting")
        write_exports(path, staged_exports, exports)
        for written in staged_exports.iterdir():
            fsync_file(written)
        os.replace(staged_exports, exported)
        fsync_file(exported.parent)
    point_at(serving_db, path)
    if exports is not None:
        point_at(exported.parent / "current", exported)
    _prune(serving_db, path, keep)
    return Publication(id=publication, path=path, rows=rows, stale=stale)


def fsync_file(path: Path) -> None:
    """Flush a written file to disk before a link is pointed at it."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _remove_leftovers(serving_db: Path) -> None:
    """Staged files (and their WALs) and links of a publish that was killed."""
    for leftover in [
        *serving_dir(serving_db).glob(".*.publishing*"),
        *serving_db.parent.glob(f".{serving_db.name}.*"),
        *exports_dir(serving_db).glob(".current.*.link"),
    ]:
        leftover.unlink(missing_ok=True)
    for leftover in exports_dir(serving_db).glob(".*.exporting"):
        shutil.rmtree(leftover)


def _adopt_regular_file(serving_db: Path) -> Path | None:
    """The version the serving path points at. A serving file of before versioned publishing
    (a regular file) becomes the oldest version, so that the link can replace it."""
    if serving_db.is_symlink():
        return serving_db.resolve() if serving_db.exists() else None
    if not serving_db.exists():
        return None
    written = datetime.fromtimestamp(serving_db.stat().st_mtime, UTC)
    adopted = serving_dir(serving_db) / f"{serving_db.stem}-{written:%Y%m%dT%H%M%S%fZ}-0.duckdb"
    if not adopted.exists():  # a publish killed after adopting it already did this
        os.link(serving_db, adopted)
    return adopted


def publication_id(serving_db: Path, version: Path) -> str:
    """The publication of a serving version: ``kson-<publication>.duckdb`` → ``<publication>``."""
    return version.name.removeprefix(f"{serving_db.stem}-").removesuffix(".duckdb")


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'marts'",
            [database],
        ).fetchall()
    }


def _published_versions(
    con: duckdb.DuckDBPyConnection, publication: str
) -> dict[str, tuple[str | None, datetime | None, str | None]]:
    """Per mart in the previous version: (run id, published at, publication) of its data.

    A file of before per-mart publication has one row for all its tables."""
    columns = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'previous' "
            "AND schema_name = 'meta' AND table_name = 'publication'"
        ).fetchall()
    }
    if "mart" in columns:
        return {
            mart: (run, at, source)
            for mart, run, at, source in con.execute(
                "SELECT mart, run_id, published_at, publication FROM previous.meta.publication"
            ).fetchall()
        }
    if "tables" in columns:
        return {
            table: (run, at, publication)
            for run, at, tables in con.execute(
                "SELECT run_id, published_at, tables FROM previous.meta.publication"
            ).fetchall()
            for table in tables
        }
    return {}


def _published_statuses(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Per mart in the previous version: (status, failing checks, reason); none in a file of
    before per-mart publication."""
    try:
        return {
            mart: (status, failing, reason)
            for mart, status, failing, reason in con.execute(
                "SELECT mart, status, failing_checks, reason FROM previous.meta.publication"
            ).fetchall()
        }
    except duckdb.BinderException:
        return {}


def _copy_comments(con: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    [(table_comment,)] = con.execute(
        "SELECT comment FROM duckdb_tables() "
        "WHERE database_name = ? AND schema_name = 'marts' AND table_name = ?",
        [source, table],
    ).fetchall()
    if table_comment:
        con.execute(f"COMMENT ON TABLE serving.marts.{table} IS {sql_literal(table_comment)}")
    for column, comment in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = 'marts' AND table_name = ? AND comment IS NOT NULL",
        [source, table],
    ).fetchall():
        con.execute(f'COMMENT ON COLUMN serving.marts.{table}."{column}" IS {sql_literal(comment)}')


def point_at(path: Path, version: Path) -> None:
    """Replace ``path`` by a link to ``version`` (relative: the folder can move)."""
    link = path.with_name(f".{path.name}.{uuid.uuid4().hex}.link")
    os.symlink(version.relative_to(path.parent), link)
    os.replace(link, path)
    fsync_file(path.parent)


def _prune(serving_db: Path, current: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` versions; never the current one."""
    versions = sorted(serving_dir(serving_db).glob(f"{serving_db.stem}-*.duckdb"))
    for old in versions[:-keep]:
        if old != current:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".wal").unlink(missing_ok=True)
    # Export folders go with their versions (never the one exports/current points at).
    kept = {publication_id(serving_db, version) for version in serving_dir(serving_db).iterdir()}
    exports = exports_dir(serving_db)
    linked = (exports / "current").resolve() if (exports / "current").is_symlink() else None
    for folder in exports.glob("[!.]*"):
        stale = folder.is_dir() and not folder.is_symlink() and folder.name not in kept
        if stale and folder.resolve() != linked:
            shutil.rmtree(folder)


def published_tables(serving_db: Path) -> dict[str, int]:
    """Rows per published mart, read the way a BI tool reads (read-only)."""
    if not serving_db.exists():
        return {}
    with duckdb.connect(str(serving_db), read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
            ).fetchall()
        ]
        return {
            name: con.execute(f"SELECT count(*) FROM marts.{name}").fetchall()[0][0]
            for name in names
        }


def publication_status(serving_db: Path) -> list[dict]:
    """The rows of ``meta.publication`` (one per mart) of the current version, by mart."""
    if not serving_db.exists():
        return []
    with duckdb.connect(str(serving_db), read_only=True) as con:
        if not con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'meta' "
            "AND table_name = 'publication' AND column_name = 'mart'"
        ).fetchall()[0][0]:
            return []  # a file of before per-mart publication
        cursor = con.execute("SELECT * FROM meta.publication ORDER BY mart")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
