"""Taking a loaded file back (`kson withdraw`, the Dagster job withdraw_file): the load log
records it, and from the next run on the version loaded before is current in every mart."""

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta

import duckdb
import pytest
from dagster import DagsterInstance

from conftest import make_workspace, run_refresh
from ingest import provider_reports
from ingest.landing import load_family
from ingest.registry import FAMILIES
from ingest.withdrawal import WithdrawalError, clean_reason, printable, withdraw
from orchestration import cli
from orchestration.definitions import build_definitions
from orchestration.resources import WarehouseResource, dbt_project
from orchestration.run_lock import build_db_lock
from orchestration.withdrawal import withdraw_file

KSON = os.path.join(os.path.dirname(sys.executable), "kson")
PROVIDER_V2 = "bad performed hours typed by the provider; v1 is right"
FOLLOWUP_V2 = "Fel fil:\n HTJ was assessed in another  follow-up"


def _job_config(file_id: int, reason: str) -> dict:
    return {"ops": {"withdraw_loaded_file": {"config": {"file_id": file_id, "reason": reason}}}}


def _resent_followup(origin, target, year: int, provider: str) -> None:
    """A later follow-up of ``year`` in which HTJ's ``provider`` is ``ej godkänd``."""
    text = origin.read_text("utf-8")
    line = f"{year},HTJ,{provider},delvis godkänd,"
    assert text.count(line) == 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(line, f"{year},HTJ,{provider},ej godkänd,"), "utf-8")


@pytest.fixture(scope="module")
def withdrawn(tmp_path_factory, provider_sample):
    """Version 1 and a later version 2 of a monthly report and of the 2022 follow-up loaded
    (and a v2 of 2023 that stays); both v2 of 2022 withdrawn, one through `kson withdraw`,
    one through the Dagster job; then one run."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        root = tmp_path_factory.mktemp("withdrawal")
        workspace = make_workspace(root, monkeypatch, ("kolada", "action_plans"), provider_sample)
        reports = provider_sample / "provider_reports" / "2023"
        [v2] = reports.glob("*_HTJ_2023-03_v2.*")
        [v1] = (p for p in reports.glob("*_HTJ_2023-03.*") if p.stem == v2.stem[:-3])
        (workspace.landing / "provider_reports").mkdir()
        for report in (v1, v2):
            shutil.copy(report, workspace.landing / "provider_reports" / report.name)
        followups = provider_sample / "contract_followup"
        landed = workspace.landing / "contract_followup"
        landed.mkdir()
        for year in (2022, 2023):  # v1; v2 comes after it in landing-path order
            shutil.copy(followups / f"contract_followup_{year}.csv", landed)
        _resent_followup(
            followups / "contract_followup_2022.csv",
            landed / "resent" / "contract_followup_2022.csv",
            2022,
            "556781-7142",
        )
        _resent_followup(
            followups / "contract_followup_2023.csv",
            landed / "resent" / "contract_followup_2023.csv",
            2023,
            "556777-6397",
        )
        warehouse = WarehouseResource.from_env()
        with warehouse.connect_build() as con:
            for family, files in (("provider_reports", 2), ("contract_followup", 4)):
                outcome = load_family(con, FAMILIES[family], warehouse.file_store)
                assert len(outcome.accepted) == files
            ids = dict(con.execute("SELECT landing_path, file_id FROM raw.load_log").fetchall())
        report_v2 = ids[f"provider_reports/{v2.name}"]
        followup_v2 = ids["contract_followup/resent/contract_followup_2022.csv"]

        before = datetime.now().astimezone()
        env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home")}
        by_cli = subprocess.run(
            [KSON, "withdraw", str(report_v2), "--reason", PROVIDER_V2],
            capture_output=True,
            text=True,
            env=env,
        )
        by_job = (
            build_definitions()
            .resolve_job_def("withdraw_file")
            .execute_in_process(
                run_config=_job_config(followup_v2, FOLLOWUP_V2),
                instance=DagsterInstance.ephemeral(),
            )
        )
        after = datetime.now().astimezone()
        result = run_refresh()
        yield workspace, result, (v1, v2, report_v2, followup_v2), by_cli, by_job, (before, after)


def serving(workspace):
    return duckdb.connect(str(workspace.serving_db), read_only=True)


def test_kson_withdraw_says_what_it_took_back(withdrawn):
    _, _, (_, v2, report_v2, _), by_cli, _, _ = withdrawn
    assert by_cli.returncode == 0, by_cli.stderr
    assert by_cli.stdout.startswith(
        f"Withdrawn: file_id {report_v2} (provider_reports, provider_reports/{v2.name}, loaded "
    )
    assert f"reason: {PROVIDER_V2}" in by_cli.stdout


def test_the_report_before_the_withdrawn_one_is_current_again(withdrawn):
    workspace, result, (v1, v2, _, _), _, _, _ = withdrawn
    assert result.success, [
        (e.step_key, str(e.event_specific_data.error.cause)[-3000:])
        for e in result.all_events
        if e.is_step_failure
    ] + [c.description for c in result.get_asset_check_evaluations() if not c.passed]
    earlier = provider_reports.read(v1).tables["provider_reports"]
    corrected = provider_reports.read(v2).tables["provider_reports"]
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT unit_id, performed_hours, report_version FROM marts.provider_month "
            "WHERE provider_org_nr = ? AND report_month = DATE '2023-03-01'",
            [earlier["org_nr"][0]],
        ).fetchall()
    assert {unit: hours for unit, hours, _ in rows} == dict(
        zip(earlier["unit_id"], earlier["performed_hours"], strict=True)
    )
    assert {version for _, _, version in rows} == {1}
    assert dict(zip(corrected["unit_id"], corrected["performed_hours"], strict=True)) != {
        unit: hours for unit, hours, _ in rows
    }


def test_the_follow_up_before_the_withdrawn_one_is_current_again(withdrawn):
    """2022's v2 is withdrawn: v1's result again; 2023's v2 is not: it is current."""
    workspace, _, _, _, by_job, _ = withdrawn
    assert by_job.success
    with serving(workspace) as con:
        results = dict(
            con.execute(
                "SELECT contract_year, area_result FROM marts.contract_followup "
                "WHERE area_code = 'HTJ'"
            ).fetchall()
        )
    assert results == {2022: "delvis godkänd", 2023: "ej godkänd"}


def test_raw_keeps_the_withdrawn_rows_and_the_load_log_says_when_and_why(withdrawn):
    workspace, _, (_, _, report_v2, followup_v2), _, _, (before, after) = withdrawn
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        log = con.execute(
            "SELECT file_id, withdrawn_at, withdrawal_reason FROM raw.load_log "
            "WHERE withdrawn_at IS NOT NULL ORDER BY file_id"
        ).fetchall()
        kept = con.execute(
            "SELECT (SELECT count(*) FROM raw.provider_reports WHERE file_id = ?), "
            "(SELECT count(*) FROM raw.contract_followup WHERE file_id = ?)",
            [report_v2, followup_v2],
        ).fetchall()
        staged = con.execute(
            "SELECT count(*) FROM staging.stg_providers__monthly_reports WHERE file_id = ?",
            [report_v2],
        ).fetchall()
    reasons = {
        report_v2: PROVIDER_V2,
        followup_v2: "Fel fil: HTJ was assessed in another follow-up",
    }
    assert {file_id: reason for file_id, _, reason in log} == reasons
    assert all(before <= at <= after for _, at, _ in log)
    assert kept[0][0] > 0 and kept[0][1] == 71
    assert staged == [(0,)]


def test_the_job_records_the_withdrawal_on_the_load_log_asset(withdrawn):
    _, _, (_, _, _, followup_v2), _, by_job, _ = withdrawn
    [event] = by_job.get_asset_materialization_events()
    assert event.asset_key.path == ["raw", "load_log"]
    assert event.materialization.metadata["file_id"].value == followup_v2


def test_status_lists_the_withdrawn_files(withdrawn, tmp_path, monkeypatch, capsys):
    _, _, (_, v2, report_v2, followup_v2), _, _, _ = withdrawn
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert cli.main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = lines[lines.index("Withdrawn files: 2") + 1 :]
    assert listed[0].startswith(f"  file_id {report_v2} provider_reports/{v2.name}: ")
    assert listed[0].endswith(f", {PROVIDER_V2}")
    assert listed[1].startswith(f"  file_id {followup_v2} contract_followup/resent/")


def test_a_withdrawn_file_cannot_be_withdrawn_again(withdrawn, capsys):
    _, _, (_, v2, report_v2, followup_v2), _, _, _ = withdrawn
    assert cli.main(["withdraw", str(report_v2), "--reason", "once more, to be sure"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        f"kson withdraw: not withdrawn: file_id {report_v2} (provider_reports/{v2.name}) "
        "was already withdrawn at "
    )
    assert error.rstrip().endswith(PROVIDER_V2) and "Traceback" not in error
    again = (
        build_definitions()
        .resolve_job_def("withdraw_file")
        .execute_in_process(
            run_config=_job_config(followup_v2, "once more"),
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    )
    assert not again.success
    [failure] = [e for e in again.all_events if e.is_step_failure]
    assert "was already withdrawn at" in failure.step_failure_data.error.message


def test_an_unknown_file_id_is_refused(withdrawn, capsys):
    assert cli.main(["withdraw", "99999", "--reason", "no such file"]) == 1
    assert capsys.readouterr().err == (
        "kson withdraw: not withdrawn: no loaded file has file_id 99999 (see raw.load_log)\n"
    )


@pytest.mark.parametrize(
    ("reason", "rule"),
    [
        ("", "in words (at least 3 letters)"),
        (" \n\t ", "in words (at least 3 letters)"),
        ("x.", "in words (at least 3 letters)"),
        ("--- 42 ---", "in words (at least 3 letters)"),
        ("wrong\x00file", "control characters"),
        ("w" * 501, "longer than 500 characters"),
        ("brukare 19121212-1212 named in it", "personal identity number: leave it out"),
    ],
)
def test_only_a_reason_of_real_text_is_accepted(reason, rule):
    with pytest.raises(WithdrawalError, match=re.escape(rule)) as raised:
        clean_reason(reason)
    assert "1212" not in str(raised.value)


def test_a_file_name_with_control_characters_stays_on_one_line():
    assert printable("provider_reports/a\nb\x1b[2J.csv") == "provider_reports/a?b?[2J.csv"


def test_a_load_log_from_before_withdrawals_is_migrated(tmp_path):
    """A warehouse whose load log lacks the withdrawal columns gets them, and keeps its rows."""
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        con.execute(
            "CREATE SCHEMA raw; CREATE SEQUENCE raw.file_id_seq; CREATE TABLE raw.load_log ("
            "file_id BIGINT PRIMARY KEY, source VARCHAR NOT NULL, file_name VARCHAR NOT NULL, "
            "landing_path VARCHAR NOT NULL, sha256 VARCHAR NOT NULL UNIQUE, size_bytes BIGINT "
            "NOT NULL, row_count BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL, archive_path "
            "VARCHAR NOT NULL); INSERT INTO raw.load_log VALUES (1, 'kolada', 'a.json', "
            "'kolada/a.json', 'ab12', 10, 2, now() - INTERVAL 1 DAY, 'kolada/ab12.json')"
        )
        done = withdraw(con, 1, "fetched from the wrong endpoint")
        rows = con.execute(
            "SELECT file_id, sha256, withdrawn_at, withdrawal_reason FROM raw.load_log"
        ).fetchall()
    assert rows == [(1, "ab12", done.withdrawn_at, "fetched from the wrong endpoint")]
    assert done.withdrawn_at - done.loaded_at > timedelta(hours=23)


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """An empty build database of its own."""
    monkeypatch.setenv("KSON_WAREHOUSE", str(tmp_path / "kson.duckdb"))
    monkeypatch.delenv("KSON_BUILD_DB", raising=False)
    warehouse = WarehouseResource.from_env()
    with warehouse.connect_build() as con:
        con.execute("CREATE TABLE held (x INTEGER)")
    return warehouse


def test_a_withdrawal_waits_for_a_run_in_progress(warehouse, capsys):
    with build_db_lock(warehouse.build_db, "run-in-progress"):
        assert cli.main(["withdraw", "1", "--reason", "wrong file sent"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "kson withdraw: not withdrawn: a run is in progress (run run-in-progress, since "
    )
    assert error.endswith("): try again when it has finished\n")


def test_a_withdrawal_waits_for_a_process_holding_the_build_database(warehouse):
    """DuckDB lets one process write a database file: while another one holds it, a
    withdrawal is refused with a clear message."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            warehouse.build_db,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(WithdrawalError, match="is in use by another process"):
            withdraw_file(warehouse, 1, "wrong file sent", "kson withdraw")
    finally:
        holder.communicate("")


def test_every_staging_model_leaves_out_withdrawn_files():
    """A model reading a raw table reads it through raw_source (it then depends on the load
    log too): a new family's staging model that calls source() directly fails here."""
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    readers = {
        node["name"]: set(node["depends_on"]["nodes"])
        for node in nodes
        if node["resource_type"] == "model"
        and any(dep.startswith("source.kson.raw.") for dep in node["depends_on"]["nodes"])
    }
    assert {"stg_providers__monthly_reports", "stg_sie__transactions"} <= set(readers)
    assert [name for name, deps in readers.items() if "source.kson.raw.load_log" not in deps] == []
