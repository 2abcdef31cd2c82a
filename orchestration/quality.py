"""Quality over time: every check result of every run, and the run's Great Expectations Data Docs.

The publish step calls :func:`record_run_quality` before it publishes: it appends the run's
results — dbt tests, expectation suites, freshness checks, and per family the files quarantined
in the run — to ``meta.dq_results`` in the build database, which every publication copies into
the serving file as ``marts.dq_results`` (:func:`publish_dq_results`), and it writes the Data
Docs to ``<warehouse>/reports/data_docs/``. Messages are the checks' own descriptions, which
never quote a value of an input file.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    EventLogEntry,
)

from ingest.landing import UNCLAIMED
from ingest.registry import FAMILIES
from ingest.validation import sql_literal

if TYPE_CHECKING:
    from dagster import OpExecutionContext

    from orchestration.resources import WarehouseResource

DBT_FAILED_ROWS = "dagster_dbt/failed_row_count"  # dagster-dbt's metadata on a test's result
UNCLAIMED_ASSET = AssetKey(["raw", "unclaimed_files"])

TABLE_COMMENT = (
    "Every check result of every run, appended by the publish step: dbt tests, Great "
    "Expectations suites, freshness checks and, per source family, the files quarantined in "
    "the run. History, published whole at every publication (never stale)."
)
# name, type, comment
COLUMNS = (
    ("run_id", "VARCHAR NOT NULL", "The Dagster run that ran the check."),
    ("checked_at", "TIMESTAMPTZ NOT NULL", "When the check's result was recorded."),
    (
        "check_name",
        "VARCHAR NOT NULL",
        "The check: a dbt test's, a suite's (gx_…), freshness or quarantine.",
    ),
    ("kind", "VARCHAR NOT NULL", "dbt_test, gx_suite, freshness or quarantine."),
    (
        "asset",
        "VARCHAR NOT NULL",
        "The checked asset, e.g. marts/provider_month or "
        "raw/visit_logs (a family's quarantines: its raw table checked for freshness).",
    ),
    (
        "passed",
        "BOOLEAN NOT NULL",
        "False when the check failed (a quarantine: a file was "
        "quarantined; a check without a result counts as failed).",
    ),
    (
        "failing_rows",
        "BIGINT",
        "dbt test: failing rows; suite: rows that break a row-level "
        "expectation; quarantine: files quarantined; freshness: null.",
    ),
    (
        "severity",
        "VARCHAR NOT NULL",
        "ERROR: a failure keeps the marts downstream stale; "
        "WARN: a warning only (freshness, quarantines).",
    ),
    ("message", "VARCHAR", "What the check said (never a value of an input file)."),
)


@dataclass(frozen=True)
class DqResult:
    run_id: str
    checked_at: datetime
    check_name: str
    kind: str
    asset: str
    passed: bool
    failing_rows: int | None
    severity: str
    message: str | None


def _kind(check: AssetCheckKey) -> str:
    if check.name.startswith("gx_"):
        return "gx_suite"
    return "freshness" if check.name == "freshness" else "dbt_test"


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _check_result(run_id: str, evaluation: AssetCheckEvaluation, at: float) -> DqResult:
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    failing = metadata.get(DBT_FAILED_ROWS, metadata.get("failing_rows"))
    message = evaluation.description
    if message is None and "status" in metadata:  # a dbt test: dagster-dbt adds no text
        message = f"dbt test {metadata['status']}" + (
            f", {failing} failing row(s)" if failing else ""
        )
    check = evaluation.asset_check_key
    return DqResult(
        run_id,
        _at(at),
        check.name,
        _kind(check),
        check.asset_key.to_user_string(),
        evaluation.passed,
        failing,
        evaluation.severity.value,
        message,
    )


def family_assets() -> dict[AssetKey, tuple[str, AssetKey]]:
    """Each ingest asset → (its family, the asset its quarantines are recorded on)."""
    from ingest.freshness import SCHEDULES

    assets = {UNCLAIMED_ASSET: (UNCLAIMED, UNCLAIMED_ASSET)}
    for name, family in FAMILIES.items():
        table = SCHEDULES[name].table if name in SCHEDULES else next(iter(family.tables))
        for raw in family.tables:
            assets[AssetKey(["raw", raw])] = (name, AssetKey(["raw", table]))
    return assets


def run_results(
    run_id: str,
    records: Iterable[EventLogEntry],
    quarantined: Mapping[str, int],
    now: datetime,
) -> list[DqResult]:
    """A run's check results, from its records: each evaluated check (a planned one without a
    result as failed), and a row per family ingested in the run with its ``quarantined``
    files (family → files, from raw.quarantine_log)."""
    planned: set[AssetCheckKey] = set()
    results: dict[AssetCheckKey, DqResult] = {}
    ingested: dict[str, tuple[AssetKey, float]] = {}
    owners = family_assets()
    for entry in records:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            planned.add(event.event_specific_data.asset_check_key)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            results[evaluation.asset_check_key] = _check_result(run_id, evaluation, entry.timestamp)
        elif (
            event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key in owners
        ):
            family, asset = owners[event.asset_key]
            ingested.setdefault(family, (asset, entry.timestamp))
    for check in planned - results.keys():
        results[check] = DqResult(
            run_id, now, check.name, _kind(check), check.asset_key.to_user_string(), False,
            None, AssetCheckSeverity.ERROR.value, "no result (counts as failed)",
        )  # fmt: skip
    quarantines = [
        DqResult(
            run_id,
            _at(at),
            "quarantine",
            "quarantine",
            asset.to_user_string(),
            not quarantined.get(family),
            quarantined.get(family, 0),
            AssetCheckSeverity.WARN.value,
            f"{quarantined.get(family, 0)} file(s) quarantined (see raw.quarantine_log)",
        )
        for family, (asset, at) in sorted(ingested.items())
    ]
    return sorted(results.values(), key=lambda r: (r.asset, r.check_name)) + quarantines


def quarantined_since(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, int]:
    """Files quarantined per family (source) from ``since`` on."""
    try:
        return dict(
            con.execute(
                "SELECT source, count(*) FROM raw.quarantine_log WHERE quarantined_at >= ? "
                "GROUP BY source",
                [since],
            ).fetchall()
        )
    except duckdb.CatalogException:  # nothing was ever ingested
        return {}


def _create(con: duckdb.DuckDBPyConnection, table: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    con.execute(f"COMMENT ON TABLE {table} IS {sql_literal(TABLE_COMMENT)}")
    for name, _, comment in COLUMNS:
        con.execute(f"COMMENT ON COLUMN {table}.{name} IS {sql_literal(comment)}")


def append_results(con: duckdb.DuckDBPyConnection, results: list[DqResult]) -> None:
    """Append to ``meta.dq_results`` in the build database (created when missing)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    _create(con, "meta.dq_results")
    if results:
        con.executemany(
            f"INSERT INTO meta.dq_results VALUES ({', '.join('?' * len(COLUMNS))})",
            [astuple(result) for result in results],
        )


def publish_dq_results(con: duckdb.DuckDBPyConnection, build: str, serving: str) -> int | None:
    """Copy the history into the attached ``serving`` database as ``marts.dq_results`` with
    its comments; its rows, or None when ``build`` has none yet."""
    [(exists,)] = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'meta' "
        "AND table_name = 'dq_results'",
        [build],
    ).fetchall()
    if not exists:
        return None
    target = f"{serving}.marts.dq_results"
    _create(con, target)
    con.execute(
        f"INSERT INTO {target} SELECT * FROM {build}.meta.dq_results "
        "ORDER BY checked_at, asset, check_name"
    )
    [(rows,)] = con.execute(f"SELECT count(*) FROM {target}").fetchall()
    return rows


def data_docs_dir(warehouse_dir: Path) -> Path:
    return warehouse_dir / "reports" / "data_docs"


def record_run_quality(
    context: OpExecutionContext, warehouse: WarehouseResource, records: list[EventLogEntry]
) -> None:
    """The publish step's part: this run's results into ``meta.dq_results``, from the run's
    ``records`` (planned and done materializations and checks, as the publish step read them),
    and Data Docs of the suites it validated."""
    started = _at(min((entry.timestamp for entry in records), default=0))
    with warehouse.connect_build() as con:
        results = run_results(
            context.run_id, records, quarantined_since(con, started), datetime.now(UTC)
        )
        append_results(con, results)
    failed = Counter(result.kind for result in results if not result.passed)
    context.log.info(
        f"meta.dq_results: {len(results)} results of this run, failed: {dict(failed) or 'none'}"
    )
    # Only when a suite ran in this process (GX takes seconds to import).
    if (runner := sys.modules.get("expectations.runner")) is not None:
        index = runner.build_data_docs(data_docs_dir(warehouse.warehouse_dir))
        if index is not None:
            context.log.info(f"Great Expectations Data Docs: {index}")
