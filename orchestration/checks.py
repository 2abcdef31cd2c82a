"""Great Expectations suites (expectations/) as blocking Dagster asset checks on the marts."""

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
        blocking=True,
        description=f"Great Expectations: {spec.description} A failure stops publishing.",
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
