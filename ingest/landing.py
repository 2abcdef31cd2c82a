"""Landing → raw layer: load log, lineage, archive and quarantine.

Every file in ``<landing>/<family>/`` is fingerprinted (sha256). A file already in the load log
is not loaded again, so loading twice adds nothing: unchanged at the path it was loaded from, it
is only counted; landed under another path (e.g. an original put back after a bad version), it
is reported as "already loaded as file_id N". Otherwise it is read and validated by its
family's reader; an accepted file is copied into the archive (content-addressed) and its rows
are inserted with its ``file_id`` together with its load-log row; a rejected file is copied into
quarantine with an error report and recorded in ``raw.quarantine_log`` (one row per quarantine
event), and the other files go on loading. Landing files themselves are never moved or changed.

Care data must not leave a personal identity number anywhere: a file whose landing path holds
one is rejected without being read and is shown and recorded by its hash, never by its name
(:func:`shown_path`); a rejected file is copied into quarantine only when its reader scanned
every text of it and found none (``ReadResult.scanned``), else only its report is kept; a SIE
ledger's numbers are masked by its reader, and the archive keeps that masked copy (the load log
records the original's sha256 and where it was masked).

Landing files are untrusted: each is read in a worker process with memory and time limits
(``ingest.isolation``), so a file that crashes, exhausts or hangs its reader is quarantined as
"the file could not be read" and the run goes on. A file no family takes (a name no family's
pattern matches, a file in the landing root or in an unknown folder) is quarantined with the
rule "no source family takes this file" (:func:`quarantine_unclaimed`); hidden files (``.*``,
e.g. a transfer in progress) and a ``README.md`` in the landing root are left alone.

Files are read and validated a few at once, and accepted files are inserted in batches, one
transaction per batch (a commit costs ~10 ms: a thousand small reports would spend more time
committing than loading). A file's rows and its load-log row are always in the same
transaction; if a batch fails, its files are inserted one by one, so the good ones are kept
and the failing one leaves nothing behind. Snapshots being read live in
``<archive>/.incoming/``; a load first removes what a killed earlier load left there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from ingest.isolation import read_isolated
from ingest.pii import RULE_FILE_NAME, contains_personnummer
from ingest.registry import SourceFamily
from ingest.validation import ReadResult, SqlScan, ValidationError, format_report

RAW_SCHEMA = "raw"
UNCLAIMED = "unclaimed"  # the source of quarantined files that no family takes
NO_FAMILY = "no source family takes this file"
READERS = min(4, os.cpu_count() or 1)  # files read and validated at once
BATCH_ROWS = 2_000_000  # accepted rows held in memory before they are inserted
BATCH_FILES = 500  # accepted files per transaction
T = TypeVar("T")

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
-- SIE ledgers: personal identity numbers masked (where, as "line 12"), and the sha256 of the
-- masked copy the archive keeps (sha256 stays the landed original's, which dedupes loads).
ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS masked_count INTEGER DEFAULT 0;
ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS masked_places VARCHAR[];
ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS archive_sha256 VARCHAR;
CREATE SEQUENCE IF NOT EXISTS {RAW_SCHEMA}.quarantine_id_seq START 1;
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.quarantine_log (
    quarantine_id  BIGINT PRIMARY KEY DEFAULT nextval('{RAW_SCHEMA}.quarantine_id_seq'),
    sha256         VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,  -- the family, or 'unclaimed' when no family takes it
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


@dataclass(frozen=True)
class AlreadyLoaded:
    """A landed file whose bytes were loaded before from another landing path."""

    landing_path: str
    file_id: int
    withdrawn: bool = False

    def __str__(self) -> str:
        withdrawn = " (withdrawn)" if self.withdrawn else ""
        return f"{self.landing_path}: already loaded as file_id {self.file_id}{withdrawn}"


@dataclass
class LoadOutcome:
    source: str
    accepted: list[tuple[str, int]] = field(default_factory=list)  # (landing path, rows)
    unchanged: int = 0  # files loaded before from the same landing path
    already_loaded: list[AlreadyLoaded] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (landing path, report)

    @property
    def rows_loaded(self) -> int:
        return sum(rows for _, rows in self.accepted)


def hidden_name(sha: str) -> str:
    """How a file whose name holds a personal identity number is shown: by its hash."""
    return f"[file sha256 {sha[:16]}]"


def shown_path(landing_path: str, sha: str, folder: str) -> str:
    """``landing_path`` as the platform shows and records it: itself, or ``<folder>/`` and the
    file's hash when the path holds a personal identity number."""
    if not contains_personnummer(landing_path):
        return landing_path
    return f"{folder}/{hidden_name(sha)}"


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
    con.begin()
    try:
        _migrate_quarantine_log(con)
        con.execute(_BOOKKEEPING_DDL)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _migrate_quarantine_log(con: duckdb.DuckDBPyConnection) -> None:
    """A quarantine log of the first version (one row per sha256, replaced at each event) gets
    its own id per event; its rows are kept, in the order they were quarantined."""
    columns = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
            "current_database() AND table_schema = ? AND table_name = 'quarantine_log'",
            [RAW_SCHEMA],
        ).fetchall()
    }
    if not columns or "quarantine_id" in columns:
        return
    con.execute(f"ALTER TABLE {RAW_SCHEMA}.quarantine_log RENAME TO quarantine_log_v1")
    con.execute(_BOOKKEEPING_DDL)
    kept = ", ".join(sorted(columns))
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}.quarantine_log ({kept}) SELECT {kept} "
        f"FROM {RAW_SCHEMA}.quarantine_log_v1 ORDER BY quarantined_at, landing_path"
    )
    con.execute(f"DROP TABLE {RAW_SCHEMA}.quarantine_log_v1")


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
    """One landing file after reading: its sha256, and unless it was loaded before, its
    snapshot and the reader's result."""

    landing_path: str  # as shown and recorded (see shown_path)
    sha: str
    size: int = 0
    snapshot: Path | None = None
    result: ReadResult | None = None


@dataclass
class _Accepted:
    landing_path: str
    sha: str
    size: int
    archived: Path
    archive_path: str
    archive_sha: str
    result: ReadResult


def load_family(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    store: FileStore,
    files_read: Callable[[int, int], None] | None = None,
) -> LoadOutcome:
    """Load every new file of ``family`` from the landing folder into the raw layer.

    A new file is first copied out of the landing folder; the copy is hashed, validated and
    loaded, so what is recorded is exactly what was checked even if the sender overwrites the
    landing file meanwhile. Files get their ``file_id`` in landing-path order.
    ``files_read(done, total)`` is called as each landing file has been read (the progress).
    """
    ensure_raw_tables(con, family)
    outcome = LoadOutcome(source=family.name)
    loaded = _loaded_paths(con)  # sha256 → the landing path it was loaded from
    sizes = _loaded_sizes(con)
    again: list[tuple[str, str]] = []  # (landing path, sha256) of bytes loaded before
    batch: list[_Accepted] = []
    batch_rows = 0
    with tempfile.TemporaryDirectory(
        prefix=f"{family.name}-", dir=_incoming_dir(store, family)
    ) as incoming:
        try:
            files = family.landing_files(store.landing_dir)
            reading = _read_all(family, store, files, Path(incoming), loaded, sizes)
            for done, checked in enumerate(reading, 1):
                if files_read is not None:
                    files_read(done, len(files))
                if checked.sha in loaded:  # loaded before, or the same content twice
                    if loaded[checked.sha] == checked.landing_path:
                        outcome.unchanged += 1
                    else:
                        again.append((checked.landing_path, checked.sha))
                    continue
                assert checked.result is not None
                if not checked.result.ok:
                    report = _quarantine(con, store, family.name, checked)
                    outcome.quarantined.append((checked.landing_path, report))
                    continue
                assert checked.snapshot is not None
                archived, archive_sha = _archive(store, family, checked)
                archive_path = archived.relative_to(store.archive_dir).as_posix()
                batch.append(
                    _Accepted(
                        checked.landing_path,
                        checked.sha,
                        checked.size,
                        archived,
                        archive_path,
                        archive_sha,
                        checked.result,
                    )
                )
                loaded[checked.sha] = checked.landing_path
                batch_rows += checked.result.row_count
                if len(batch) >= BATCH_FILES or batch_rows >= BATCH_ROWS:
                    pending, batch, batch_rows = batch, [], 0
                    _insert_batch(con, family, pending, outcome)
        finally:  # what was accepted before a reader failed is kept
            _insert_batch(con, family, batch, outcome)
    outcome.already_loaded = _file_ids(con, again)
    return outcome


REPLAY_REJECTED = "rejected when read again from the archive"


def replay_family(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    store: FileStore,
    files_read: Callable[[int, int], None] | None = None,
) -> LoadOutcome:
    """Read every accepted file of ``family`` (not withdrawn) again from the archive with
    today's reader, e.g. after a contract rule changed: in one transaction, the files' raw rows
    are replaced. A file that now fails is quarantined with its report, its rows are deleted
    and its load-log row is withdrawn with the rule (the same bytes landed again stay "already
    loaded"). Nothing else is touched; the outcome's ``accepted`` are the files read again."""
    ensure_raw_tables(con, family)
    outcome = LoadOutcome(source=family.name)
    files = con.execute(
        f"SELECT file_id, file_name, landing_path, sha256, size_bytes, archive_path "
        f"FROM {RAW_SCHEMA}.load_log WHERE source = ? AND withdrawn_at IS NULL ORDER BY file_id",
        [family.name],
    ).fetchall()
    for *_, archive_path in files:
        if not (store.archive_dir / archive_path).is_file():
            raise FileNotFoundError(
                f"{family.name}: the archived copy {archive_path} is missing; nothing replayed"
            )
    with tempfile.TemporaryDirectory(
        prefix=f"{family.name}-", dir=_incoming_dir(store, family)
    ) as incoming:
        reads = (
            partial(
                _read_archived, family, store.archive_dir / archived, name, Path(incoming, str(i))
            )
            for i, (_, name, *_, archived) in enumerate(files)
        )
        con.begin()
        try:
            for table in family.tables:
                con.execute(
                    f"DELETE FROM {RAW_SCHEMA}.{table} WHERE list_contains(?, file_id)",
                    [[file_id for file_id, *_ in files]],
                )
            for done, ((file_id, _, landing, sha, size, archived), (snapshot, result)) in enumerate(
                zip(files, _read_ahead(reads), strict=True), 1
            ):
                if files_read is not None:
                    files_read(done, len(files))
                if result.ok:
                    _insert_rows(con, family, [(file_id, store.archive_dir / archived, result)])
                    con.execute(
                        f"UPDATE {RAW_SCHEMA}.load_log SET row_count = ? WHERE file_id = ?",
                        [result.row_count, file_id],
                    )
                    outcome.accepted.append((landing, result.row_count))
                else:
                    checked = _Checked(landing, sha, size, snapshot, result)
                    report = _quarantine(con, store, family.name, checked)
                    con.execute(
                        f"UPDATE {RAW_SCHEMA}.load_log SET withdrawn_at = now(), "
                        "withdrawal_reason = ? WHERE file_id = ?",
                        [f"{REPLAY_REJECTED}: {result.errors[0]}", file_id],
                    )
                    outcome.quarantined.append((landing, report))
                shutil.rmtree(snapshot.parent, ignore_errors=True)  # staged rows are loaded
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return outcome


def _read_archived(
    family: SourceFamily, archived: Path, name: str, folder: Path
) -> tuple[Path, ReadResult]:
    """Read an archived file under its landed name (readers check it): a link in ``folder``."""
    folder.mkdir()
    snapshot = folder / name
    try:
        os.link(archived, snapshot)
    except OSError:  # another file system
        shutil.copyfile(archived, snapshot)
    return snapshot, read_isolated(_reader(family, folder), snapshot)


def unclaimed_files(families: Iterable[SourceFamily], landing_dir: Path) -> list[Path]:
    """The files under ``landing_dir`` that no family takes, in name order (hidden files and
    a ``README.md`` in the landing root are no landed files)."""
    claimed = {path for family in families for path in family.landing_files(landing_dir)}
    return sorted(
        path
        for path in landing_dir.rglob("*")
        if path.is_file()
        and path not in claimed
        and not any(part.startswith(".") for part in path.relative_to(landing_dir).parts)
        and path != landing_dir / "README.md"
    )


def quarantine_unclaimed(
    con: duckdb.DuckDBPyConnection, families: Iterable[SourceFamily], store: FileStore
) -> LoadOutcome:
    """Quarantine every file in the landing folder that no family takes, with a report that
    says where files go. Such a file was not checked for personal data, so only its report is
    kept, not a copy."""
    families = list(families)
    ensure_bookkeeping(con)
    outcome = LoadOutcome(source=UNCLAIMED)
    expected = "; ".join(f"{f.name}/ {' '.join(f.patterns)}" for f in families)
    for path in unclaimed_files(families, store.landing_dir):
        sha = sha256_of(path)
        landing_path = shown_path(path.relative_to(store.landing_dir).as_posix(), sha, UNCLAIMED)
        name = landing_path.rsplit("/", 1)[-1]
        errors = [ValidationError(name, "file", NO_FAMILY, f"a family folder: {expected}")]
        checked = _Checked(landing_path, sha, path.stat().st_size, path, ReadResult(errors=errors))
        report = _quarantine(con, store, UNCLAIMED, checked)
        outcome.quarantined.append((landing_path, report))
    return outcome


def _read_all(
    family: SourceFamily,
    store: FileStore,
    files: list[Path],
    incoming: Path,
    loaded: dict[str, str],
    sizes: set[int],
) -> Iterator[_Checked]:
    """The family's landing ``files``, read by ``READERS`` threads (each reading in a worker
    process), in landing-path order (at most a few read ahead, so that memory stays
    bounded)."""
    yield from _read_ahead(
        partial(_read_one, family, store, path, incoming / str(index), loaded, sizes)
        for index, path in enumerate(files)
    )


def _read_ahead(reads: Iterable[Callable[[], T]]) -> Iterator[T]:
    """The results of ``reads``, run by ``READERS`` threads, in order (at most a few ahead)."""
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        ahead: deque[Future[T]] = deque()
        for read in reads:
            ahead.append(pool.submit(read))
            if len(ahead) > 2 * READERS:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _read_one(
    family: SourceFamily,
    store: FileStore,
    path: Path,
    folder: Path,
    loaded: dict[str, str],
    sizes: set[int],
) -> _Checked:
    """One landing file, copied and hashed in one pass, then read from the copy. Hashed in
    place first only where that can spare the copy and the read (a loaded file has its size:
    maybe the same bytes again) or must (a name holding a personal identity number is shown
    by the hash, and the file is not read)."""
    landing_path = path.relative_to(store.landing_dir).as_posix()
    if contains_personnummer(landing_path) or path.stat().st_size in sizes:
        sha = sha256_of(path)
        shown = shown_path(landing_path, sha, family.name)
        if sha in loaded:
            return _Checked(shown, sha)
        if shown != landing_path:  # not read, not copied: its name alone is personal data
            name = hidden_name(sha)
            error = ValidationError(name, "file name", RULE_FILE_NAME, "a name without one")
            return _Checked(shown, sha, path.stat().st_size, result=ReadResult(errors=[error]))
    folder.mkdir()
    snapshot = folder / path.name  # readers check the file's name
    sha = copy_with_sha256(path, snapshot)
    if sha in loaded:
        return _Checked(landing_path, sha)
    result = read_isolated(_reader(family, folder), snapshot)
    return _Checked(landing_path, sha, snapshot.stat().st_size, snapshot, result)


def _reader(family: SourceFamily, folder: Path) -> Callable[[Path], ReadResult]:
    """The family's reader; one that stages keeps the accepted rows in ``folder`` (read once)."""
    return partial(family.read, staging=folder) if family.stages else family.read


def _loaded_paths(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute(f"SELECT sha256, landing_path FROM {RAW_SCHEMA}.load_log").fetchall())


def _loaded_sizes(con: duckdb.DuckDBPyConnection) -> set[int]:
    rows = con.execute(f"SELECT DISTINCT size_bytes FROM {RAW_SCHEMA}.load_log").fetchall()
    return {size for (size,) in rows}


def _file_ids(con: duckdb.DuckDBPyConnection, again: list[tuple[str, str]]) -> list[AlreadyLoaded]:
    """What the files whose bytes were loaded before from another path were loaded as."""
    if not again:
        return []
    ids = {
        sha: (file_id, withdrawn)
        for sha, file_id, withdrawn in con.execute(
            f"SELECT sha256, file_id, withdrawn_at IS NOT NULL FROM {RAW_SCHEMA}.load_log "
            "WHERE list_contains(?, sha256)",
            [[sha for _, sha in again]],
        ).fetchall()
    }
    return [AlreadyLoaded(path, *ids[sha]) for path, sha in again]


def _incoming_dir(store: FileStore, family: SourceFamily) -> Path:
    """The folder of the snapshots being read, without what a killed earlier load of the family
    left there (or a load of the version before, whose folders were named ``tmp…``)."""
    folder = store.archive_dir / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.iterdir():
        if leftover.name.startswith((f"{family.name}-", "tmp")):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
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
        _insert_rows(
            con, family, [(i, a.archived, a.result) for i, a in zip(ids, batch, strict=True)]
        )
        log = pl.DataFrame(  # noqa: F841 - read by DuckDB
            {
                "file_id": list(ids),
                "source": family.name,
                "file_name": [Path(a.landing_path).name for a in batch],
                "landing_path": [a.landing_path for a in batch],
                "sha256": [a.sha for a in batch],
                "size_bytes": [a.size for a in batch],
                "row_count": [a.result.row_count for a in batch],
                "archive_path": [a.archive_path for a in batch],
                "archive_sha256": [a.archive_sha for a in batch],
                "masked_count": [len(a.result.masked) for a in batch],
                "masked_places": [a.result.masked or None for a in batch],
            },
            schema_overrides={
                "file_id": pl.Int64,
                "size_bytes": pl.Int64,
                "row_count": pl.Int64,
                "masked_count": pl.Int32,
                "masked_places": pl.List(pl.String),
            },
        )
        con.execute(
            f"INSERT INTO {RAW_SCHEMA}.load_log BY NAME SELECT *, now() AS loaded_at FROM log"
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    family: SourceFamily,
    files: list[tuple[int, Path, ReadResult]],
) -> None:
    """Insert the rows of accepted files (file_id, archived copy, reader's result) into the
    family's raw tables, in the caller's transaction."""
    for table in family.tables:
        frames = []
        for file_id, archived, result in files:
            content = result.tables.get(table)
            if isinstance(content, SqlScan):
                con.execute(
                    f"INSERT INTO {RAW_SCHEMA}.{table} BY NAME SELECT CAST({file_id} AS "
                    f"BIGINT) AS file_id, * FROM ({content.query(archived)})"
                )
            elif content is not None:
                frames.append(content.select(pl.lit(file_id, pl.Int64).alias("file_id"), pl.all()))
        if frames:
            incoming = pl.concat(frames, how="vertical_relaxed")  # noqa: F841 - read by DuckDB
            con.execute(f"INSERT INTO {RAW_SCHEMA}.{table} BY NAME SELECT * FROM incoming")


def _archive(store: FileStore, family: SourceFamily, checked: _Checked) -> tuple[Path, str]:
    """Keep the validated copy under the landed file's hash (moved within the archive folder),
    or, where the reader masked personal identity numbers, the masked copy instead: its path
    and the sha256 of what is kept."""
    assert checked.snapshot is not None and checked.result is not None
    snapshot, masked = checked.snapshot, checked.result.masked_copy
    target = store.archive_dir / family.name / f"{checked.sha}{''.join(snapshot.suffixes)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if masked is None:
        snapshot.replace(target)
        return target, checked.sha
    partial = snapshot.with_name(snapshot.name + ".masked")
    partial.write_bytes(masked)
    partial.replace(target)
    snapshot.unlink()
    return target, hashlib.sha256(masked).hexdigest()


def _quarantine(
    con: duckdb.DuckDBPyConnection, store: FileStore, source: str, checked: _Checked
) -> str:
    """Keep the rejected file's report, and a copy of the file when its reader scanned every
    text of it and found no personal data (not one it could not read or no family takes);
    log the event. Returns the report."""
    assert checked.result is not None
    errors = checked.result.errors
    name = checked.landing_path.rsplit("/", 1)[-1]
    report = format_report(name, source, errors)
    folder = store.quarantine_dir / source
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{checked.sha[:12]}_{name}"
    if any(error.personal_data for error in errors):
        # Personal data must not reach the warehouse, its quarantine included.
        report += (
            "\nThe file holds personal data: it was not copied into quarantine. "
            "Correct it where it was sent from.\n"
        )
    elif checked.result.masked_copy is not None:  # an SIE ledger: never its original
        copy.write_bytes(checked.result.masked_copy)
    elif checked.result.scanned and checked.snapshot is not None:
        shutil.copyfile(checked.snapshot, copy)
    else:
        report += (
            "\nThe file is not copied into quarantine: it could not be checked for personal data.\n"
        )
    report_path = copy.with_name(copy.name + ".errors.txt")
    report_path.write_text(report, encoding="utf-8")
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}.quarantine_log (sha256, source, file_name, landing_path, "
        "size_bytes, error_count, first_error, report_path, quarantined_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            checked.sha,
            source,
            name,
            checked.landing_path,
            checked.size,
            len(errors),
            str(errors[0]),
            report_path.relative_to(store.quarantine_dir).as_posix(),
        ],
    )
    return report
