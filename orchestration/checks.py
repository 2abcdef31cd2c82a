"""Great Expectations suites (expectations/) as Dagster asset checks on the marts.

Not blocking: a failed suite stops no step. The publish step (orchestration/assets/publish.py)
runs after them and keeps that mart, and the marts built from it, at their published version.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from expectations import SUITES, MartSuite
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
        from expectations.runner import validate_frame  # imports GX: seconds, so only here

        with warehouse.connect_build(read_only=True) as con:
            frame = con.sql(spec.query).df()
        outcome = validate_frame(frame, spec.build(), spec.key_columns)
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
            },
        )

    return _check


gx_checks = [build_gx_check(name, spec) for name, spec in SUITES.items()]
