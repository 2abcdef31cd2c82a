"""One writer of the build database at a time (orchestration/run_lock.py), the runs that died
holding it, and the Dagster instance config shipped in the repository."""

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus

from conftest import REPO_ROOT, run_refresh
from orchestration import cli
from orchestration.run_lock import (
    BUILD_DB_TAG,
    RunInProgress,
    build_db_lock,
    build_db_tag,
    close_dead_runs,
    is_held,
)

HOLD = """
import sys, time
from orchestration.run_lock import build_db_lock
with build_db_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""
SINCE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"  # ISO 8601, local time


def in_progress(run_id: str) -> str:
    """The message a second writer gets, as a regular expression."""
    return rf"a run is in progress \(run {re.escape(run_id)}, since {SINCE}\)"


def hold_elsewhere(build_db: Path, run_id: str) -> subprocess.Popen:
    """Another process that holds the build database's lock until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(build_db), run_id],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert holder.stdout.readline() == "held\n"
    return holder


def test_a_second_writer_is_told_which_run_holds_the_lock_and_since_when(tmp_path):
    build_db = tmp_path / "kson_build.duckdb"
    holder = hold_elsewhere(build_db, "run-a")
    try:
        assert is_held(build_db)
        with pytest.raises(RunInProgress, match=f"^{in_progress('run-a')}$"):
            with build_db_lock(build_db, "run-b"):
                pass
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock
        holder.wait()
    assert not is_held(build_db)
    with build_db_lock(build_db, "run-b") as holder_now:
        assert holder_now.run_id == "run-b" and is_held(build_db)
    assert not is_held(build_db)


def test_the_lock_is_reentrant_for_its_own_run_only(tmp_path):
    build_db = tmp_path / "kson_build.duckdb"
    with build_db_lock(build_db, "run-a"):
        with build_db_lock(build_db, "run-a"):
            pass
        assert is_held(build_db)  # the outer hold goes on
        with pytest.raises(RunInProgress, match=in_progress("run-a")):
            with build_db_lock(build_db, "run-b"):
                pass
    assert not is_held(build_db)


def test_a_dagster_run_of_the_refresh_job_does_not_write_while_another_run_holds_the_lock(
    workspace,
):
    """Whoever launches it (schedule, sensor, UI): the warehouse resource takes the lock."""
    holder = hold_elsewhere(workspace.build_db, "run-elsewhere")
    try:
        result = run_refresh()
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    messages = [str(event.event_specific_data) for event in result.all_events]
    assert any("a run is in progress (run run-elsewhere, since" in m for m in messages)
    assert not workspace.build_db.exists()  # nothing was ingested


def test_runs_that_died_holding_the_lock_are_recorded_as_failed(tmp_path):
    build_db, other_db = tmp_path / "kson_build.duckdb", tmp_path / "other" / "kson_build.duckdb"
    instance = DagsterInstance.ephemeral()

    def run(status: DagsterRunStatus, db: Path) -> str:
        run_id = str(uuid.uuid4())
        instance.add_run(
            DagsterRun(
                job_name="refresh_warehouse",
                run_id=run_id,
                status=status,
                tags={BUILD_DB_TAG: build_db_tag(db)},
            )
        )
        return run_id

    died = run(DagsterRunStatus.STARTED, build_db)
    died_starting = run(DagsterRunStatus.STARTING, build_db)
    finished = run(DagsterRunStatus.SUCCESS, build_db)
    other_warehouse = run(DagsterRunStatus.STARTED, other_db)
    current = run(DagsterRunStatus.STARTED, build_db)

    with build_db_lock(build_db, current):
        closed = close_dead_runs(instance, build_db, current)

    assert {run.run_id for run in closed} == {died, died_starting}
    status = {run_id: instance.get_run_by_id(run_id).status for run_id in instance.get_run_ids()}
    assert status == {
        died: DagsterRunStatus.FAILURE,
        died_starting: DagsterRunStatus.FAILURE,
        finished: DagsterRunStatus.SUCCESS,
        other_warehouse: DagsterRunStatus.STARTED,
        current: DagsterRunStatus.STARTED,
    }
    [failure] = instance.all_logs(died, of_type=DagsterEventType.RUN_FAILURE)
    assert failure.message.startswith("The process running this run died")
    assert f"Recorded as failed by run {current}" in failure.message


def test_the_instance_config_in_the_repository(tmp_path, monkeypatch, capsys):
    """kson copies it into a DAGSTER_HOME that has none; make run and make ui use it as is."""
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("KSON_WAREHOUSE", str(tmp_path / "warehouse" / "kson.duckdb"))
    assert cli.main(["status"]) == 0
    assert "Last run: none" in capsys.readouterr().out
    shipped = REPO_ROOT / ".dagster" / "dagster.yaml"
    assert (home / "dagster.yaml").read_bytes() == shipped.read_bytes()

    instance = DagsterInstance.from_config(str(home))
    assert not instance.telemetry_enabled
    # What the queued-run daemon reads: one run in progress at a time.
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_runtime_seconds == 3600
    # The daemon launches a failed run once more.
    assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 1)
