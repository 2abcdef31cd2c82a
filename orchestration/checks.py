"""Great Expectations suites (expectations/) as Dagster asset checks on the marts, and a
freshness check per source family (ingest/freshness.py) on its raw table.

Not blocking: a failed suite stops no step. The publish step (orchestration/assets/publish.py)
runs after them and keeps that mart, and the marts built from it, at their published version.
A freshness check only warns (severity WARN, which the publish step ignores).
"""

from datetime import UTC, datetime

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from expectations import SUITES, MartSuite
from ingest.freshness import SCHEDULES, assess, local_today
from ingest.registry import FAMILIES
from orchestration.resources import WarehouseResource


def build_gx_check(name: str, spec: MartSuite) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["marts", spec.mart]),
        name=f"gx_{name}",
        description=f"Great Expectations: {spec.description} A failure keeps this mart, and "
        "the marts built from it, at their previously published version.",
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        # GX takes seconds to import: only here
        from great_expectations.core.run_identifier import RunIdentifier

        from expectations.runner import validate_frame

        with warehouse.connect_build(read_only=True) as con:
            frame = con.sql(spec.query).df()
        record = context.instance.get_run_record_by_id(context.run.run_id)
        started = record and (record.start_time or record.create_timestamp.timestamp())
        run = RunIdentifier(context.run.run_id, started and datetime.fromtimestamp(started, UTC))
        outcome = validate_frame(frame, spec.build(), spec.key_columns, run)
        for failure in outcome.failures:
            context.log.error(f"gx_{name} failed: {failure}")
        return AssetCheckResult(
            passed=outcome.success,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{outcome.evaluated} expectations passed"
                if outcome.success
                else f"{len(outcome.failures)} of {outcome.evaluated} expectations failed: "
                + " | ".join(outcome.failures)
            ),
            metadata={
                "rows": len(frame),
                "expectations": outcome.evaluated,
                "failures": outcome.failures,
                "failing_rows": outcome.failing_rows,
            },
        )

    return _check


gx_checks = [build_gx_check(name, spec) for name, spec in SUITES.items()]


def build_freshness_check(family: str) -> AssetChecksDefinition:
    schedule = SCHEDULES[family]

    @asset_check(
        asset=AssetKey(["raw", schedule.table]),
        name="freshness",
        description=f"Freshness of {FAMILIES[family].title}: the next file is due "
        f"{schedule.rule} (ingest/freshness.py). Warns when it is overdue, never blocks. The "
        "result is as of its run's date (quiet nights start no run); `kson status` says it "
        "as of today.",
    )
    def _check(warehouse: WarehouseResource) -> AssetCheckResult:
        try:
            with warehouse.connect_build(read_only=True) as con:
                freshness = assess(con, family, local_today())
        except duckdb.Error as error:  # a warning must not go missing: no result blocks
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=f"freshness could not be assessed: {type(error).__name__}",
            )
        return AssetCheckResult(
            passed=not freshness.overdue,
            severity=AssetCheckSeverity.WARN,
            description=freshness.describe(),
            metadata={
                "as_of": str(freshness.today),
                "latest_period": freshness.label(freshness.latest) if freshness.latest else "",
                "due": str(freshness.due or ""),
            },
        )

    return _check


freshness_checks = [build_freshness_check(family) for family in SCHEDULES]
