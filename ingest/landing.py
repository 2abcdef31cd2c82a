"""Landing → raw layer: load log, lineage, archive and quarantine.

Every file in ``<landing>/<family>/`` is fingerprinted (sha256). A file already in the load log
is skipped, so loading twice adds nothing. Otherwise it is read and validated by its family's
reader; an accepted file is copied into the archive (content-addressed) and its rows are
inserted with its ``file_id`` in one transaction together with its load-log row; a rejected
file is copied into quarantine with an error report and recorded in ``raw.quarantine_log``,
and the other files go on loading. Landing files themselves are never moved or changed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingest.registry import SourceFamily
from ingest.validation import ReadResult, SqlScan, ValidationError, format_report

RAW_SCHEMA = "raw"

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


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, family: SourceFamily) -> None:
    """Create the bookkeeping tables and the family's raw tables (with ``file_id``) if missing."""
    con.execute(_BOOKKEEPING_DDL)
    for table, schema in family.tables.items():
        empty = pl.DataFrame(schema=schema)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table} AS "
            "SELECT CAST(NULL AS BIGINT) AS file_id, * FROM empty WHERE false"
        )


def load_family(
    con: duckdb.DuckDBPyConnection, family: SourceFamily, store: FileStore
) -> LoadOutcome:
    """Load every new file of ``family`` from the landing folder into the raw layer.

    A new file is first copied out of the landing folder; the copy is hashed, validated and
    loaded, so what is recorded is exactly what was checked even if the sender overwrites the
    landing file meanwhile.
    """
    ensure_raw_tables(con, family)
    outcome = LoadOutcome(source=family.name)
    for path in family.landing_files(store.landing_dir):
        landing_path = path.relative_to(store.landing_dir).as_posix()
        if _is_loaded(con, sha256_of(path)):
            outcome.skipped.append(landing_path)
            continue
        with tempfile.TemporaryDirectory(dir=_incoming_dir(store)) as incoming:
            snapshot = Path(incoming) / path.name  # readers check the file's name
            sha = copy_with_sha256(path, snapshot)
            if _is_loaded(con, sha):
                outcome.skipped.append(landing_path)
                continue
            result = family.read(snapshot)
            if not result.ok:
                report = format_report(path, family.name, result.errors)
                _quarantine(con, family, store, snapshot, landing_path, sha, report, result.errors)
                outcome.quarantined.append((landing_path, report))
                continue
            archived = _archive(store, family, snapshot, sha)
            _insert(
                con,
                family,
                result,
                archived,
                landing_path,
                sha,
                archived.relative_to(store.archive_dir).as_posix(),
            )
        outcome.accepted.append((landing_path, result.row_count))
    return outcome


def _is_loaded(con: duckdb.DuckDBPyConnection, sha: str) -> bool:
    query = f"SELECT 1 FROM {RAW_SCHEMA}.load_log WHERE sha256 = ?"
    return bool(con.execute(query, [sha]).fetchall())


def _incoming_dir(store: FileStore) -> Path:
    folder = store.archive_dir / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _insert(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    result: ReadResult,
    archived: Path,
    landing_path: str,
    sha: str,
    archive_path: str,
) -> None:
    """The file's rows and its load-log row, in one transaction: all or nothing."""
    con.begin()
    try:
        [(file_id,)] = con.execute(f"SELECT nextval('{RAW_SCHEMA}.file_id_seq')").fetchall()
        for table, content in result.tables.items():
            if isinstance(content, SqlScan):
                source = f"({content.query(archived)})"
            else:
                con.register("incoming", content)
                source = "incoming"
            con.execute(
                f"INSERT INTO {RAW_SCHEMA}.{table} BY NAME "
                f"SELECT CAST({file_id} AS BIGINT) AS file_id, * FROM {source}"
            )
            if not isinstance(content, SqlScan):
                con.unregister("incoming")
        con.execute(
            f"INSERT INTO {RAW_SCHEMA}.load_log VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?)",
            [
                file_id,
                family.name,
                Path(landing_path).name,
                landing_path,
                sha,
                archived.stat().st_size,
                result.row_count,
                archive_path,
            ],
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
