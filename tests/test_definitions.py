"""The Dagster definitions: what a data engineer sees in the UI, and the CLI entry points."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
from dagster import AssetKey

from conftest import REPO_ROOT, make_workspace
from orchestration.assets.dbt import kson_dbt_models
from orchestration.definitions import build_definitions
from orchestration.resources import dbt_project

BIN = Path(sys.executable).parent


def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def test_every_dbt_model_and_seed_is_an_asset_and_every_test_a_check():
    nodes = manifest()["nodes"].values()
    models = {
        AssetKey([n["config"]["schema"], n["name"]]) for n in nodes if n["resource_type"] == "model"
    }
    seeds = {AssetKey(["reference", n["name"]]) for n in nodes if n["resource_type"] == "seed"}
    assert AssetKey(["marts", "survey_results"]) in models
    assert models | seeds == set(kson_dbt_models.keys)
    tests = {n["name"] for n in nodes if n["resource_type"] == "test"}
    checks = {key.name for key in kson_dbt_models.check_keys}
    # Tests on sources have no asset of their own to attach to; every other one is a check.
    assert checks <= tests and "assert_survey_results_complete" in checks
    assert len(checks) >= 12


def test_lineage_runs_from_landing_file_to_the_published_mart():
    graph = build_definitions().resolve_asset_graph()
    published = AssetKey(["serving", "published_marts"])
    upstream = graph.get(published).parent_keys
    assert AssetKey(["marts", "survey_results"]) in upstream
    ancestors = graph.upstream_key_iterator(published)
    assert {
        AssetKey(["raw", "kolada_values"]),
        AssetKey(["raw", "kolada_kpis"]),
        AssetKey(["staging", "stg_kolada__kpi_values"]),
        AssetKey(["intermediate", "int_kolada__kpi_values_current"]),
    } <= set(ancestors)


def test_no_check_blocks_a_step_the_publish_step_decides_per_mart():
    """A failed check must stop only its mart: neither the expectation suites nor the dbt tests
    block (dagster-dbt makes error-severity tests blocking; KsonDbtTranslator turns it off)."""
    graph = build_definitions().resolve_asset_graph()
    [gx_check] = [key for key in graph.asset_check_keys if key.name == "gx_survey_results"]
    assert gx_check.asset_key == AssetKey(["marts", "survey_results"])
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert "assert_survey_results_complete" in specs and len(specs) >= 20
    assert [name for name, spec in specs.items() if spec.blocking] == []


def test_nightly_schedule_runs_the_whole_refresh_at_two_in_stockholm():
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Stockholm"
    job = defs.resolve_job_def("refresh_warehouse")
    assert schedule.job_name == job.name
    assert AssetKey(["serving", "published_marts"]) in job.asset_layer.executable_asset_keys


def test_dagster_cli_validates_the_definitions():
    run = subprocess.run(
        [BIN / "dagster", "definitions", "validate", "-m", "orchestration.definitions"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Validation successful" in run.stdout + run.stderr


def test_dagster_asset_materialize_runs_the_whole_graph(tmp_path, monkeypatch):
    workspace = make_workspace(tmp_path, monkeypatch, ("kolada",))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    Path(env["DAGSTER_HOME"]).mkdir()
    run = subprocess.run(
        [
            BIN / "dagster",
            "asset",
            "materialize",
            "--select",
            "*",
            "-m",
            "orchestration.definitions",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM marts.survey_results WHERE NOT is_suppressed"
        ).fetchall() == [(24,)]


def test_landing_sensor_requests_everything_before_a_first_completed_run(workspace):
    """Quiet nights and a run's share: tests/test_planning.py."""
    from dagster import RunRequest, build_sensor_context

    from orchestration.definitions import build_definitions
    from orchestration.schedules import landing_sensor

    repository = build_definitions().get_repository_def()
    request = landing_sensor(build_sensor_context(repository_def=repository))
    assert isinstance(request, RunRequest) and request.asset_selection is None
    assert request.tags["kson/trigger"] == "sensor"
