"""The nightly refresh job, its schedule, and a sensor on the landing folder."""

import hashlib
import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from ingest.landing import unclaimed_files
from ingest.registry import FAMILIES
from orchestration.resources import WarehouseResource

refresh_job = define_asset_job(
    "refresh_warehouse",
    selection=AssetSelection.all(),
    description="Ingest new landing files, build and test the dbt models, run the "
    "expectation suites and publish the marts. What `kson run` and the schedule run.",
)

nightly_schedule = ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Stockholm",
    default_status=DefaultScheduleStatus.RUNNING,
)

# How often the daemon looks at the landing folder (seconds; the serve test makes it short).
SENSOR_INTERVAL_SECONDS = int(os.environ.get("KSON_SENSOR_INTERVAL_SECONDS", "300"))


@sensor(
    job=refresh_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """Request a refresh when the set of landing files (name, size, mtime) has changed, those
    no family takes included (a run quarantines them)."""
    landing = WarehouseResource.from_env().file_store.landing_dir
    files = [path for family in FAMILIES.values() for path in family.landing_files(landing)]
    listing = sorted(
        f"{path.relative_to(landing)}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
        for path in files + unclaimed_files(FAMILIES.values(), landing)
    )
    fingerprint = hashlib.sha256("\n".join(listing).encode()).hexdigest()
    if fingerprint == context.cursor:
        return SkipReason("no change in the landing folder")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=fingerprint)
