"""The refresh job, the nightly schedule and the landing sensor.

Both the schedule and the sensor ask the plan (orchestration/planning.py) what a run would
have to do: on a quiet night they skip with its reason and start no run; otherwise they
request a run of the job's share (``RunRequest(asset_selection=...)``; dagster-dbt builds
only the selected models).
"""

import json
import os
from pathlib import Path

import duckdb
from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from orchestration.locations import Locations
from orchestration.planning import plan_run, planned_run_config, selected_assets
from orchestration.resources import dbt_preparer, dbt_project
from orchestration.run_lock import is_held
from orchestration.run_tags import run_tags

refresh_job = define_asset_job(
    "refresh_warehouse",
    selection=AssetSelection.all(),
    description="Ingest new landing files, build and test the dbt models, run the "
    "expectation suites and publish the marts. What `kson run`, the schedule and the sensor "
    "run (of everything, or of the share that new files and changes need).",
)

PLAN_TAG = "kson/plan"  # why the run was requested: what the plan found

# How often the daemon looks at the landing folder (seconds; the serve test makes it short).
SENSOR_INTERVAL_SECONDS = int(os.environ.get("KSON_SENSOR_INTERVAL_SECONDS", "300"))


def planned_request(
    context: ScheduleEvaluationContext | SensorEvaluationContext, trigger: str
) -> RunRequest | SkipReason:
    """A run of what the plan says, or why there is none."""
    locations = Locations.from_env()
    if is_held(locations.build_db):
        return SkipReason("a run is in progress (it holds the build database)")
    try:
        plan = plan_run(locations.landing_dir, locations.build_db)
    except duckdb.IOException as error:  # another process has the build database open
        return SkipReason(f"the build database cannot be read now: {error}")
    if plan.needs_manifest:
        if dbt_preparer.is_current(dbt_project):
            plan.with_manifest(_manifest(dbt_project.manifest_path))
        else:  # loaded before the project changed: what changed is not known
            plan.changed.append("the dbt project changed since this code location was loaded")
    if plan.quiet:
        return SkipReason(plan.reason())
    graph = context.repository_def.asset_graph
    selection = selected_assets(plan, graph, _manifest(dbt_project.manifest_path))
    return RunRequest(
        run_key=plan.key() if isinstance(context, SensorEvaluationContext) else None,
        asset_selection=None if selection is None else sorted(selection),
        run_config=planned_run_config(plan, selection),
        tags={**run_tags(trigger, locations.landing_dir), PLAN_TAG: plan.reason()},
    )


def _manifest(path: Path) -> dict:
    return json.loads(path.read_text())


@schedule(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Stockholm",
    default_status=DefaultScheduleStatus.RUNNING,
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    """At 02:00: the run the plan says, or none on a quiet night."""
    return planned_request(context, "schedule")


@sensor(
    job=refresh_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """A run when a file landed (those no family takes included: the run quarantines them) or
    the project changed; the run key is the work to do, so it is requested once."""
    return planned_request(context, "sensor")
