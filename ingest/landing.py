"""Landing → raw layer: load log, lineage, archive and quarantine.

Every file in ``<landing>/<family>/`` is fingerprinted (sha256). A file already in the load log
is skipped, so loading twice adds nothing. Otherwise it is read and validated by its family's
reader; an accepted file is copied into the archive (content-addressed) and its rows are
inserted with its ``file_id`` together with its load-log row; a rejected file is copied into
quarantine with an error report and recorded in ``raw.quarantine_log``, and the other files go
on loading. Landing files themselves are never moved or changed.

Files are read and validated by a few threads at once (the readers are pure; polars, DuckDB
and fastexcel release the GIL), and accepted files are inserted in batches, one transaction
per batch (a commit costs ~10 ms: a thousand small reports would spend more time committing
than loading). A file's rows and its load-log row are always in the same transaction; if a
batch fails, its files are inserted one by one, so the good ones are kept and the failing one
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingest.registry import SourceFamily
from ingest.validation import ReadResult, SqlScan, ValidationError, format_report

RAW_SCHEMA = "raw"
READERS = min(4, os.cpu_count() or 1)  # files read and validated at once
BATCH_ROWS = 2_000_000  # accepted rows held in memory before they are inserted
BATCH_FILES = 500  # accepted files per transaction

_BOOKKEEPING_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};
CREATE SEQUENCE IF NOT EXISTS {RAW_SCHEMA}.file_id_seq START 1;
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.load_log (
    file_id      BIGINT PRIMARY KEY,
    source       VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    landing_path VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL UNIQUE,
    size_bytes   BIGINT NOT NULL,
    row_count    BIGINT NOT NULL,
    loaded_at    TIMESTAMPTZ NOT NULL,
    archive_path VARCHAR NOT NULL
);
-- Withdrawals (ingest/withdrawal.py); ADD COLUMN migrates a load log from before them.
ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS withdrawn_at TIMESTAMPTZ;
ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS withdrawal_reason VARCHAR;
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.quarantine_log (
    sha256         VARCHAR PRIMARY KEY,
    source         VARCHAR NOT NULL,
    file_name      VARCHAR NOT NULL,
    landing_path   VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    error_count    INTEGER NOT NULL,
    first_error    VARCHAR NOT NULL,
    report_path    VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);
"""


@dataclass(frozen=True)
class FileStore:
    """Where the platform keeps its own copies of input files."""

    landing_dir: Path
    archive_dir: Path
    quarantine_dir: Path


@dataclass
class LoadOutcome:
    source: str
    accepted: list[tuple[str, int]] = field(default_factory=list)  # (landing path, rows)
    skipped: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (landing path, report)

    @property
    def rows_loaded(self) -> int:
        return sum(rows for _, rows in self.accepted)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_with_sha256(source: Path, target: Path) -> str:
    """Copy a file and hash what was copied, in one pass."""
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("wb") as writer:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or migrate) the load log and the quarantine log."""
    con.execute(_BOOKKEEPING_DDL)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, family: SourceFamily) -> None:
    """Create the bookkeeping tables and the family's raw tables (with ``file_id``) if missing."""
    ensure_bookkeeping(con)
    for table, schema in family.tables.items():
        empty = pl.DataFrame(schema=schema)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table} AS "
            "SELECT CAST(NULL AS BIGINT) AS file_id, * FROM empty WHERE false"
        )


@dataclass
class _Checked:
    """One landing file after reading: skipped (already loaded), or its snapshot and result."""

    landing_path: str
    sha: str | None = None
    snapshot: Path | None = None
    result: ReadResult | None = None


@dataclass
class _Accepted:
    landing_path: str
    sha: str
    archived: Path
    archive_path: str
    result: ReadResult


def load_family(
    con: duckdb.DuckDBPyConnection, family: SourceFamily, store: FileStore
) -> LoadOutcome:
    """Load every new file of ``family`` from the landing folder into the raw layer.

    A new file is first copied out of the landing folder; the copy is hashed, validated and
    loaded, so what is recorded is exactly what was checked even if the sender overwrites the
    landing file meanwhile. Files get their ``file_id`` in landing-path order.
    """
    ensure_raw_tables(con, family)
    outcome = LoadOutcome(source=family.name)
    loaded = _loaded_hashes(con)
    batch: list[_Accepted] = []
    batch_rows = 0
    with tempfile.TemporaryDirectory(dir=_incoming_dir(store)) as incoming:
        try:
            for checked in _read_all(family, store, Path(incoming), loaded):
                if checked.result is None or checked.sha in loaded:  # the same content twice
                    outcome.skipped.append(checked.landing_path)
                    continue
                assert checked.sha is not None and checked.snapshot is not None
                if not checked.result.ok:
                    report = format_report(checked.snapshot, family.name, checked.result.errors)
                    _quarantine(
                        con,
                        family,
                        store,
                        checked.snapshot,
                        checked.landing_path,
                        checked.sha,
                        report,
                        checked.result.errors,
                    )
                    outcome.quarantined.append((checked.landing_path, report))
                    continue
                archived = _archive(store, family, checked.snapshot, checked.sha)
                archive_path = archived.relative_to(store.archive_dir).as_posix()
                batch.append(
                    _Accepted(
                        checked.landing_path, checked.sha, archived, archive_path, checked.result
                    )
                )
                loaded.add(checked.sha)
                batch_rows += checked.result.row_count
                if len(batch) >= BATCH_FILES or batch_rows >= BATCH_ROWS:
                    pending, batch, batch_rows = batch, [], 0
                    _insert_batch(con, family, pending, outcome)
        finally:  # what was accepted before a reader failed is kept
            _insert_batch(con, family, batch, outcome)
    return outcome


def _read_all(
    family: SourceFamily, store: FileStore, incoming: Path, loaded: set[str]
) -> Iterator[_Checked]:
    """The family's landing files, read by ``READERS`` threads, in landing-path order (at most
    a few read ahead, so that memory stays bounded)."""
    files = family.landing_files(store.landing_dir)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        ahead: deque[Future[_Checked]] = deque()
        for index, path in enumerate(files):
            ahead.append(pool.submit(_read_one, family, store, path, incoming / str(index), loaded))
            if len(ahead) > 2 * READERS:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _read_one(
    family: SourceFamily, store: FileStore, path: Path, folder: Path, loaded: set[str]
) -> _Checked:
    landing_path = path.relative_to(store.landing_dir).as_posix()
    if sha256_of(path) in loaded:
        return _Checked(landing_path)
    folder.mkdir()
    snapshot = folder / path.name  # readers check the file's name
    sha = copy_with_sha256(path, snapshot)
    if sha in loaded:
        return _Checked(landing_path)
    return _Checked(landing_path, sha, snapshot, family.read(snapshot))


def _loaded_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {sha for (sha,) in con.execute(f"SELECT sha256 FROM {RAW_SCHEMA}.load_log").fetchall()}


def _incoming_dir(store: FileStore) -> Path:
    folder = store.archive_dir / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _insert_batch(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    batch: list[_Accepted],
    outcome: LoadOutcome,
) -> None:
    """Insert the batch in one transaction; if that fails, file by file (the good files are
    kept, the failing one raises and leaves nothing behind)."""
    if not batch:
        return
    try:
        _insert(con, family, batch)
    except Exception:
        if len(batch) == 1:
            raise
        for accepted in batch:
            _insert_batch(con, family, [accepted], outcome)
        return
    outcome.accepted += [(a.landing_path, a.result.row_count) for a in batch]


def _insert(con: duckdb.DuckDBPyConnection, family: SourceFamily, batch: list[_Accepted]) -> None:
    """The files' rows and their load-log rows, in one transaction: all or nothing."""
    con.begin()
    try:
        # One writer: the batch's ids are consecutive, in landing-path order.
        [(first,)] = con.execute(
            f"SELECT min(id) FROM (SELECT nextval('{RAW_SCHEMA}.file_id_seq') AS id FROM range(?))",
            [len(batch)],
        ).fetchall()
        ids = range(first, first + len(batch))
        for table in family.tables:
            frames = []
            for file_id, accepted in zip(ids, batch, strict=True):
                content = accepted.result.tables.get(table)
                if isinstance(content, SqlScan):
                    con.execute(
                        f"INSERT INTO {RAW_SCHEMA}.{table} BY NAME SELECT CAST({file_id} AS "
                        f"BIGINT) AS file_id, * FROM ({content.query(accepted.archived)})"
                    )
                elif content is not None:
                    frames.append(
                        content.select(pl.lit(file_id, pl.Int64).alias("file_id"), pl.all())
                    )
            if frames:
                incoming = pl.concat(frames, how="vertical_relaxed")  # noqa: F841 - read by DuckDB
                con.execute(f"INSERT INTO {RAW_SCHEMA}.{table} BY NAME SELECT * FROM incoming")
        log = pl.DataFrame(  # noqa: F841 - read by DuckDB
            {
                "file_id": list(ids),
                "source": family.name,
                "file_name": [Path(a.landing_path).name for a in batch],
                "landing_path": [a.landing_path for a in batch],
                "sha256": [a.sha for a in batch],
                "size_bytes": [a.archived.stat().st_size for a in batch],
                "row_count": [a.result.row_count for a in batch],
                "archive_path": [a.archive_path for a in batch],
            },
            schema_overrides={"file_id": pl.Int64, "size_bytes": pl.Int64, "row_count": pl.Int64},
        )
        con.execute(
            f"INSERT INTO {RAW_SCHEMA}.load_log BY NAME SELECT *, now() AS loaded_at FROM log"
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _archive(store: FileStore, family: SourceFamily, snapshot: Path, sha: str) -> Path:
    """Keep the validated copy under its content hash (moved within the archive folder)."""
    target = store.archive_dir / family.name / f"{sha}{''.join(snapshot.suffixes)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshot.replace(target)
    return target


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    store: FileStore,
    path: Path,
    landing_path: str,
    sha: str,
    report: str,
    errors: list[ValidationError],
) -> None:
    folder = store.quarantine_dir / family.name
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{sha[:12]}_{path.name}"
    if any(error.personal_data for error in errors):
        # Personal data must not reach the warehouse, its quarantine included.
        report += (
            "\nThe file holds personal data: it was not copied into quarantine. "
            "Correct it where it was sent from.\n"
        )
    else:
        shutil.copyfile(path, copy)
    report_path = copy.with_name(copy.name + ".errors.txt")
    report_path.write_text(report, encoding="utf-8")
    con.execute(
        f"INSERT OR REPLACE INTO {RAW_SCHEMA}.quarantine_log "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            sha,
            family.name,
            path.name,
            landing_path,
            path.stat().st_size,
            len(errors),
            str(errors[0]),
            report_path.relative_to(store.quarantine_dir).as_posix(),
        ],
    )
