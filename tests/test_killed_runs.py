"""A killed run leaves nothing behind, and one run writes at a time: `kson run` as a user runs
it, SIGKILLed (its whole process group) mid-ingest and mid-publish and then run again, and two
runs started together. Small data: the Kolada sample and a year of the providers' test sample."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from conftest import PROVIDER_SOURCES, Workspace, make_workspace

KSON = Path(sys.executable).with_name("kson")


def environment(root: Path, provider_sample: Path) -> tuple[Workspace, dict[str, str]]:
    """A landing folder with the Kolada sample and the providers' 2022 (264 reports, a visit
    log of 182,000 visits), an empty warehouse and Dagster instance."""
    with pytest.MonkeyPatch.context() as patch:
        workspace = make_workspace(root, patch, ("kolada", *PROVIDER_SOURCES), provider_sample)
    for later in ("provider_reports/2023", "provider_reports/2024"):
        shutil.rmtree(workspace.landing / later)
    for later in ("visit_logs/visits_2023.csv", "visit_logs/visits_2024.csv"):
        (workspace.landing / later).unlink()
    env = {
        **os.environ,
        "KSON_LANDING_DIR": str(workspace.landing),
        "KSON_WAREHOUSE": str(workspace.serving_db),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    for variable in ("KSON_BUILD_DB", "DAGSTER_IS_DEV_CLI"):
        env.pop(variable, None)
    return workspace, env


def kson(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KSON, *args], env=env, capture_output=True, text=True, timeout=600)


def start_run(env: dict[str, str]) -> subprocess.Popen:
    """`kson run` in a process group of its own (dbt runs in a child process)."""
    return subprocess.Popen(
        [KSON, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_when(run: subprocess.Popen, workspace: Workspace, leftover: str) -> None:
    """SIGKILL the run's process group as soon as a leftover named like ``leftover`` (a glob)
    exists: the run is then in the middle of reading that file or writing it."""
    deadline = time.monotonic() + 300
    while not any(fnmatch(path.name, leftover) for path in leftovers(workspace)):
        if run.poll() is not None:
            pytest.fail(f"the run ended before the point to kill it at:\n{run.communicate()}")
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.002)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate()


def leftovers(workspace: Workspace) -> list[Path]:
    """Snapshots of landing files being read, and serving files being written."""
    incoming = workspace.warehouse / "archive" / ".incoming"
    snapshots = [Path(folder, name) for folder, _, names in os.walk(incoming) for name in names]
    staged = [
        path
        for folder in (workspace.warehouse, workspace.warehouse / "serving")
        if folder.is_dir()
        for path in folder.iterdir()
        if ".publishing" in path.name
    ]
    return snapshots + staged


def marts(serving_db: Path) -> dict[str, tuple[int, str]]:
    """Rows and a checksum of the rows (in any order) of every published mart, lineage file
    ids left out: they are surrogate keys, and a killed load used up some of them. Not the
    check history (dq_results): each run adds its own rows."""
    with duckdb.connect(str(serving_db), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
            "AND table_name <> 'dq_results' ORDER BY 1"
        ).fetchall()
        checksums = {}
        for (table,) in tables:
            columns = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'marts' AND table_name = ? AND column_name NOT LIKE '%file_id' "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            row = ", ".join(f'"{name}" := m."{name}"' for (name,) in columns)
            checksums[table] = con.execute(
                "SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
                f"FROM (SELECT md5(struct_pack({row})::VARCHAR) AS h FROM marts.{table} AS m)"
            ).fetchone()
        return checksums


def published_by(serving_db: Path) -> set[str]:
    with duckdb.connect(str(serving_db), read_only=True) as con:
        rows = con.execute("SELECT run_id FROM meta.publication").fetchall()
    return {run_id for (run_id,) in rows}


def run_id_of(output: str) -> str:
    [run_id] = re.findall(r"^Run (\S+): SUCCESS$", output, re.MULTILINE)
    return run_id


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, provider_sample: Path):
    """Two `kson run` started together on a fresh warehouse; the one that ran is the clean
    run the killed ones are compared with."""
    workspace, env = environment(tmp_path_factory.mktemp("clean"), provider_sample)
    runs = [start_run(env), start_run(env)]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    return workspace, results


def test_two_runs_started_together_one_runs_the_other_is_refused(clean):
    workspace, results = clean
    [(_, out, err)] = [result for result in results if result[0] == 0]
    [(refused, refused_out, refused_err)] = [result for result in results if result[0] != 0]
    assert refused == 1 and refused_out == ""
    winner = run_id_of(out)
    assert re.fullmatch(
        rf"kson run: a run is in progress \(run {winner}, since "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\); nothing done\n",
        refused_err,
    ), refused_err
    assert marts(workspace.serving_db)["survey_results"][0] == 32
    assert published_by(workspace.serving_db) == {winner}


def test_after_kills_mid_ingest_and_mid_publish_the_next_run_is_a_clean_run(
    tmp_path, provider_sample, clean
):
    workspace, env = environment(tmp_path, provider_sample)

    # Killed while a visit log is being read: its snapshot stays in archive/.incoming.
    kill_when(start_run(env), workspace, "visits_*.csv")
    assert leftovers(workspace)
    status = kson(env, "status")
    [died_ingesting] = re.findall(
        r"^Last run: (\S+) refresh_warehouse FAILURE: the process died", status.stdout, re.M
    )
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    assert instance.get_run_by_id(died_ingesting).status == DagsterRunStatus.STARTED

    # The next run loads the rest and is killed while it writes the serving file.
    kill_when(start_run(env), workspace, "*.publishing")
    assert instance.get_run_by_id(died_ingesting).status == DagsterRunStatus.FAILURE
    [died_publishing] = [
        run.run_id for run in instance.get_runs() if run.status == DagsterRunStatus.STARTED
    ]

    recovered = kson(env, "run")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert f"kson run: run {died_publishing} had died; recorded as failed" in recovered.stdout
    assert instance.get_run_by_id(died_publishing).status == DagsterRunStatus.FAILURE
    assert leftovers(workspace) == []
    assert marts(workspace.serving_db) == marts(clean[0].serving_db)
    assert published_by(workspace.serving_db) == {run_id_of(recovered.stdout)}
