"""The Dagster code location: one Definitions object, assembled from the small modules."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from orchestration.alerts import checks_failed_alert, run_failure_alert
from orchestration.assets.dbt import kson_dbt_models
from orchestration.assets.ingest import ingest_assets
from orchestration.assets.publish import published_marts
from orchestration.assets.report import board_report
from orchestration.checks import freshness_checks, gx_checks
from orchestration.resources import WarehouseResource, dbt_resource
from orchestration.schedules import landing_sensor, nightly_schedule, refresh_job
from orchestration.withdrawal import load_log, withdraw_job


def build_definitions() -> Definitions:
    """Definitions with resources resolved from the environment at call time (tests set it)."""
    return Definitions(
        assets=[*ingest_assets, load_log, kson_dbt_models, published_marts, board_report],
        asset_checks=[*gx_checks, *freshness_checks],
        jobs=[refresh_job, withdraw_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor, run_failure_alert, checks_failed_alert],
        resources={"warehouse": WarehouseResource.from_env(), "dbt": dbt_resource()},
        # One DuckDB writer at a time, and no process start-up per step.
        executor=in_process_executor,
    )


defs = build_definitions()
