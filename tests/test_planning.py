"""What a run does (orchestration/planning.py): nothing on a quiet night, its share when files
land or the project changes, and replays (``kson run --select``)."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)
from stricter_kolada import STRICTER_RULE, read_stricter

from conftest import SAMPLE_DIR, Workspace
from ingest.landing import FileStore, ensure_bookkeeping, load_family, replay_family
from ingest.registry import FAMILIES
from orchestration.planning import (
    DBT_PROJECT_DIR,
    STATE_DDL,
    code_fingerprint,
    dbt_project_fingerprint,
    landed_files,
    node_assets,
    node_checksums,
    plan_run,
    record_seen,
    refresh_touched,
    replay_selection,
    vars_fingerprint,
)
from orchestration.publishing import publication_status
from orchestration.resources import dbt_project
from sample_data import manual_indicators

KSON = Path(sys.executable).with_name("kson")
KOLADA_FILES = sorted((SAMPLE_DIR / "kolada").glob("*.json"))


def completed_run(
    con: duckdb.DuckDBPyConnection, code: str | None = None, dbt_vars: str | None = None
) -> None:
    """Record a completed run (``r1``) that saw the landing files recorded so far and built
    the project as it is (or with other ``code`` or ``dbt_vars``)."""
    con.execute(STATE_DDL)
    con.execute("UPDATE meta.landing_seen SET completed = true")
    con.execute(
        "INSERT INTO meta.run_state VALUES ('r1', now(), ['kolada', 'unclaimed'], ?, ?, ?, '{}')",
        [
            code or code_fingerprint(),
            dbt_vars or vars_fingerprint(),
            dbt_project_fingerprint(),
        ],
    )


def test_the_plan_comes_from_what_the_last_completed_run_saw(tmp_path):
    landing, build_db = tmp_path / "landing", tmp_path / "build.duckdb"
    (landing / "kolada").mkdir(parents=True)
    for path in KOLADA_FILES[:2]:
        shutil.copy2(path, landing / "kolada" / path.name)
    (landing / "notes.json").write_text("{}")  # no family takes it: quarantined as unclaimed
    with duckdb.connect(str(build_db)) as con:
        ensure_bookkeeping(con)
        for source in ("kolada", "unclaimed"):
            record_seen(con, source, landed_files(landing, [source]))
        first = KOLADA_FILES[0].read_bytes()
        con.execute(
            "INSERT INTO raw.load_log (file_id, source, file_name, landing_path, sha256, "
            "size_bytes, row_count, loaded_at, archive_path) VALUES "
            "(1, 'kolada', 'a', 'kolada/a', sha256(?::BLOB), 1, 1, now(), 'a')",
            [first],
        )
        con.execute(
            "INSERT INTO raw.quarantine_log (sha256, source, file_name, landing_path, "
            "size_bytes, error_count, first_error, report_path, quarantined_at) VALUES "
            "(sha256('{}'::BLOB), 'unclaimed', 'notes.json', 'notes.json', 2, 1, 'e', 'r', now())"
        )
        completed_run(con)

    plan = plan_run(landing, build_db)
    assert plan.quiet and not plan.touched
    assert re.fullmatch(
        r"nothing new since run r1 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+: 3 landing files "
        r"unchanged, project unchanged",
        plan.reason(),
    ), plan.reason()

    # Touched, same bytes: hashed, nothing new; once recorded, not hashed again.
    touched = landing / "kolada" / KOLADA_FILES[0].name
    os.utime(touched, ns=(1, 1))
    plan = plan_run(landing, build_db)
    assert plan.quiet and [f.path for f in plan.touched] == [touched]
    with duckdb.connect(str(build_db)) as con:
        refresh_touched(con, plan.touched)
    assert plan_run(landing, build_db).touched == []

    # A new file; bytes quarantined as unclaimed are new once a family's folder holds them.
    (landing / "kolada" / "new.json").write_text('{"values": []}')
    shutil.move(landing / "notes.json", landing / "kolada" / "notes.json")
    plan = plan_run(landing, build_db)
    assert plan.sources == {"kolada": "2 new or changed file(s)"}
    assert plan.reason().endswith(": kolada: 2 new or changed file(s)")
    assert not plan.quiet and not plan.everything

    # Files a run saw but did not complete, and a withdrawal since the last completed run.
    (landing / "kolada" / "new.json").unlink()
    (landing / "kolada" / "notes.json").unlink()
    with duckdb.connect(str(build_db)) as con:
        record_seen(con, "kolada", landed_files(landing, ["kolada"]))
        con.execute("UPDATE raw.load_log SET withdrawn_at = now() + INTERVAL 1 SECOND")
    assert plan_run(landing, build_db).sources == {
        "kolada": "2 file(s) of a run that did not complete, 1 file(s) withdrawn"
    }

    # Changed code: everything.
    with duckdb.connect(str(build_db)) as con:
        con.execute("DELETE FROM meta.run_state")
        completed_run(con, code="the code of before")
    plan = plan_run(landing, build_db)
    assert plan.everything and plan.reason() == "everything: the code changed"
    # Changed dbt vars (dbt_project.yml): everything.
    with duckdb.connect(str(build_db)) as con:
        con.execute("DELETE FROM meta.run_state")
        completed_run(con, dbt_vars="the vars of before")
    assert plan_run(landing, build_db).reason() == "everything: the dbt vars changed"
    # No build database, or none with a completed run: everything.
    assert plan_run(landing, tmp_path / "none.duckdb").reason() == (
        "everything: no completed run yet"
    )


def test_changed_dbt_nodes_and_the_assets_that_build_them():
    manifest = json.loads(dbt_project.manifest_path.read_text())
    recorded = node_checksums(manifest)
    assert node_checksums(json.loads(dbt_project.manifest_path.read_text())) == recorded
    nodes = manifest["nodes"]
    model = "model.kson.survey_results"
    nodes[model]["checksum"]["checksum"] = "edited"
    macro = next(uid for uid in manifest["macros"] if uid.endswith(".raw_source"))
    manifest["macros"][macro]["macro_sql"] += "\n-- edited"
    changed = {
        uid for uid, checksum in node_checksums(manifest).items() if recorded[uid] != checksum
    }
    readers = {uid for uid, node in nodes.items() if macro in node["depends_on"]["macros"]}
    assert readers and changed == {model} | readers

    test = next(
        uid for uid, node in nodes.items() if node.get("attached_node") == model
    )  # a dbt test of the mart rebuilds the mart (and what is built from it)
    source = "source.kson.raw.kolada_values"
    assert node_assets(manifest, [test]) == {AssetKey(["marts", "survey_results"])}
    assert AssetKey(["staging", "stg_kolada__kpi_values"]) in node_assets(manifest, [source])
    assert node_assets(manifest, ["seed.kson.survey_questions"]) == {
        AssetKey(["reference", "survey_questions"])
    }


def test_a_family_replay_rebuilds_the_incremental_models_from_all_their_rows():
    """A replayed visit file keeps its file_id: the visits per file and month (incremental)
    are rebuilt with dbt --full-refresh; a mart's rebuild reads no archive and needs none."""
    from orchestration.definitions import defs

    graph = defs.resolve_job_def("refresh_warehouse").asset_layer.asset_graph
    selection, run_config = replay_selection(["visit_logs"], graph)
    assert AssetKey(["intermediate", "int_visits_file_monthly"]) in selection
    assert AssetKey(["marts", "provider_month"]) in selection
    assert AssetKey(["marts", "survey_results"]) not in selection
    assert run_config == {
        "ops": {
            "ingest_visit_logs": {"config": {"replay": True}},
            "kson_dbt_models": {"config": {"full_refresh": True}},
        }
    }
    selection, run_config = replay_selection(["provider_month"], graph)
    assert AssetKey(["intermediate", "int_visits_file_monthly"]) not in selection
    assert run_config == {}


def test_a_replay_reads_the_archive_again_with_todays_rules(tmp_path):
    """After a good load, a stricter reader: the other files' rows are replaced, the file that
    now fails is quarantined, withdrawn and its rows gone; nothing else changes."""
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    (store.landing_dir / "kolada").mkdir(parents=True)
    for path in KOLADA_FILES:
        shutil.copy(path, store.landing_dir / "kolada" / path.name)
    manual_indicators.write_workbook(
        store.landing_dir / "manual_indicators" / "manual_indicators_2023.xlsx",
        manual_indicators.sample_rows(),
    )
    kolada = FAMILIES["kolada"]
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        load_family(con, kolada, store)
        load_family(con, FAMILIES["manual_indicators"], store)
        before = dict(
            con.execute(
                "SELECT file_id, sum(value) FROM raw.kolada_values GROUP BY file_id"
            ).fetchall()
        )
        manual_rows = con.execute(
            "SELECT * FROM raw.manual_indicator_values ORDER BY ALL"
        ).fetchall()
        [(page2,)] = con.execute(
            "SELECT file_id FROM raw.load_log WHERE file_name LIKE '%_page2.json'"
        ).fetchall()

        outcome = replay_family(con, dataclasses.replace(kolada, read=read_stricter), store)

        after = dict(
            con.execute(
                "SELECT file_id, sum(value) FROM raw.kolada_values GROUP BY file_id"
            ).fetchall()
        )
        counts = dict(
            con.execute(
                "SELECT file_id, count(value) FROM raw.kolada_values GROUP BY file_id"
            ).fetchall()
        )
        [(withdrawn, reason)] = con.execute(
            "SELECT withdrawn_at IS NOT NULL, withdrawal_reason FROM raw.load_log "
            "WHERE file_id = ?",
            [page2],
        ).fetchall()
        [(first_error,)] = con.execute(
            "SELECT first_error FROM raw.quarantine_log WHERE sha256 = (SELECT sha256 FROM "
            "raw.load_log WHERE file_id = ?)",
            [page2],
        ).fetchall()
        assert (
            con.execute("SELECT * FROM raw.manual_indicator_values ORDER BY ALL").fetchall()
            == manual_rows
        )
    assert page2 in before and page2 not in after
    assert {fid: total - before[fid] for fid, total in after.items()} == {
        fid: counts[fid]
        for fid in after  # every value read again: 1 more each
    }
    assert withdrawn and reason.endswith(STRICTER_RULE) and first_error.endswith(STRICTER_RULE)
    [(path, report)] = outcome.quarantined
    assert path.endswith("_page2.json") and STRICTER_RULE in report
    assert len(outcome.accepted) == len(KOLADA_FILES) - 1
    assert list((store.archive_dir / ".incoming").iterdir()) == []


# --- after a good run of every family (a copy of the session's full run) ----------------------


@pytest.fixture
def after_full_run(full_run, tmp_path, monkeypatch) -> tuple[Workspace, dict]:
    """A copy of the session's full run (landing folder and warehouse, times kept), the
    environment pointing at it, and the environment of a `kson` process with its own
    Dagster home."""
    source, _ = full_run
    workspace = Workspace(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse")
    shutil.copytree(source.landing, workspace.landing, symlinks=True)
    shutil.copytree(source.warehouse, workspace.warehouse, symlinks=True)
    monkeypatch.setenv("KSON_LANDING_DIR", str(workspace.landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    monkeypatch.delenv("KSON_BUILD_DB", raising=False)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    return workspace, env


def kson(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KSON, *args], capture_output=True, text=True, env=env)


def evaluate(instance: DagsterInstance) -> tuple[object, object]:
    """The landing sensor's and the nightly schedule's answers, now."""
    from orchestration.definitions import build_definitions
    from orchestration.schedules import landing_sensor, nightly_schedule

    repository = build_definitions().get_repository_def()
    sensed = landing_sensor(build_sensor_context(instance=instance, repository_def=repository))
    scheduled = nightly_schedule(
        build_schedule_context(instance=instance, repository_def=repository)
    )
    return sensed, scheduled


def materialized(instance: DagsterInstance, run_id: str) -> set[AssetKey]:
    return {
        entry.dagster_event.asset_key
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    }


def unit_tests_run(workspace: Workspace) -> list[int]:
    """Per dbt invocation on the workspace's build database, oldest first, how many unit
    tests it ran (from dbt.log in the build database's dbt target folder)."""
    log = workspace.build_db.with_name("kson_build_dbt") / "dbt.log"
    counts: dict[str, int] = {}
    for line in log.read_text("utf-8").splitlines():
        event = json.loads(line)
        node = event["data"].get("node_info", {}).get("unique_id", "")
        finished = event["info"]["name"] == "NodeFinished" and node.startswith("unit_test.")
        invocation = event["info"]["invocation_id"]
        counts[invocation] = counts.get(invocation, 0) + finished
    return list(counts.values())


def test_a_quiet_night_then_a_new_file_costs_its_share(after_full_run):
    workspace, env = after_full_run
    instance = DagsterInstance.ephemeral()
    [(last_run,)] = (
        duckdb.connect(str(workspace.build_db), read_only=True)
        .execute("SELECT run_id FROM meta.run_state")
        .fetchall()
    )
    version = workspace.serving_db.resolve()
    published = publication_status(workspace.serving_db)

    # Nothing new: the sensor and the schedule skip, kson run does nothing and says why.
    sensed, scheduled = evaluate(instance)
    assert isinstance(sensed, SkipReason) and isinstance(scheduled, SkipReason)
    assert sensed.skip_message.startswith(f"nothing new since run {last_run} at ")
    assert scheduled.skip_message == sensed.skip_message
    quiet = kson(env, "run")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    files = len(landed_files(workspace.landing))
    assert re.fullmatch(
        rf"kson run: nothing new since run {last_run} at [^:]+:\d\d:\d\d \S+: {files} landing "
        rf"files unchanged, project unchanged; serving file unchanged: "
        rf"{re.escape(str(workspace.serving_db))} -> {re.escape(version.name)}\n",
        quiet.stdout,
    ), quiet.stdout
    assert workspace.serving_db.resolve() == version
    assert publication_status(workspace.serving_db) == published

    # One new file of one family: only it and what is built from it.
    rows = manual_indicators.sample_rows()
    indicator, _, value, comment, unit = rows[0]
    manual_indicators.write_workbook(
        workspace.landing / "manual_indicators" / "manual_indicators_2024.xlsx",
        [(indicator, 2024, value + 1, comment, unit)],
    )
    sensed, scheduled = evaluate(instance)
    assert isinstance(sensed, RunRequest) and isinstance(scheduled, RunRequest)
    assert sensed.tags["kson/plan"].endswith(": manual_indicators: 1 new or changed file(s)")
    share = set(sensed.asset_selection)
    assert set(scheduled.asset_selection) == share and sensed.run_key and not scheduled.run_key
    assert {
        AssetKey(["raw", "manual_indicator_values"]),
        AssetKey(["marts", "indicator_values"]),
        AssetKey(["serving", "published_marts"]),
        AssetKey(["serving", "board_report"]),
    } <= share
    assert not share & {AssetKey(["marts", "survey_results"]), AssetKey(["raw", "kolada_values"])}
    # New data alone: dbt's unit tests (model logic on fixed inputs) are left out.
    without_unit_tests = {"ops": {"kson_dbt_models": {"config": {"unit_tests": False}}}}
    assert sensed.run_config == scheduled.run_config == without_unit_tests

    run = kson(env, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"since run {last_run} at " in run.stdout
    assert "manual_indicators: 1 new or changed file(s)" in run.stdout
    run_id = re.search(r"^Run (\S+): SUCCESS$", run.stdout, re.MULTILINE)[1]
    runs = DagsterInstance.from_config(env["DAGSTER_HOME"])
    built = materialized(runs, run_id)
    assert built == share, built ^ share
    after = {row["mart"]: row for row in publication_status(workspace.serving_db)}
    before = {row["mart"]: row for row in published}
    assert after["survey_results"] == before["survey_results"]  # kept: run, time, status
    assert after["indicator_values"]["run_id"] == run_id
    assert after["indicator_values"]["status"] == "current"
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        [(published_value,)] = con.execute(
            "SELECT value FROM marts.indicator_values WHERE indicator_id = ? "
            "AND reporting_year = 2024",
            [indicator],
        ).fetchall()
    assert float(published_value) == pytest.approx(value + 1)
    [*_, full, share] = unit_tests_run(workspace)
    assert full > 0 and share == 0  # the first run, of everything, had them
    # and then it is quiet again
    assert isinstance(evaluate(instance)[0], SkipReason)


def test_kson_run_select_replays_a_family_and_a_mart_and_what_is_built_from_them(
    after_full_run,
):
    workspace, env = after_full_run
    unknown = kson(env, "run", "--select", "survey_results,no_such_thing")
    assert unknown.returncode == 2
    assert "--select unknown: no_such_thing; valid are the families kolada, " in unknown.stderr
    assert " and the marts action_plans, " in unknown.stderr

    run = kson(env, "run", "--select", "manual_indicators", "--select", "survey_results")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "replay of manual_indicators, survey_results and what is built from it" in run.stdout
    run_id = re.search(r"^Run (\S+): SUCCESS$", run.stdout, re.MULTILINE)[1]
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    built = materialized(instance, run_id)
    assert {
        AssetKey(["raw", "manual_indicator_values"]),  # read again from the archive
        AssetKey(["marts", "survey_results"]),
        AssetKey(["marts", "indicator_values"]),  # built from both
    } <= built
    assert AssetKey(["raw", "kolada_values"]) not in built  # upstream of the mart: not rebuilt
    assert not {key for key in built if key.path[-1].startswith("stg_kolada")}
    [replayed] = [
        entry.asset_materialization.metadata["files_replayed"].value
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        if entry.dagster_event.asset_key == AssetKey(["raw", "manual_indicator_values"])
    ]
    assert replayed == len(FAMILIES["manual_indicators"].landing_files(workspace.landing))
    status = {row["mart"]: row["run_id"] for row in publication_status(workspace.serving_db)}
    assert status["survey_results"] == status["indicator_values"] == run_id
    assert status["kpi_benchmark"] != run_id


def test_the_vars_fingerprint_follows_the_dbt_project_vars(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    assert vars_fingerprint(project) == vars_fingerprint()
    settings = project / "dbt_project.yml"
    text = settings.read_text(encoding="utf-8")
    assert "small_cell_threshold: 5" in text
    settings.write_text(text.replace("small_cell_threshold: 5", "small_cell_threshold: 4"))
    assert vars_fingerprint(project) != vars_fingerprint()
