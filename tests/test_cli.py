"""The `kson` console script, run as a user runs it."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from run_history import job_runs

from conftest import SAMPLE_DIR, make_workspace
from hostile import stray_cell_xlsx
from ingest.landing import sha256_of
from ingest.pii import RULE_FILE_NAME
from ingest.registry import FAMILIES
from orchestration.run_tags import COMMIT_TAG, LANDING_TAG, TRIGGER_TAG, checkout_commit

KSON = Path(sys.executable).with_name("kson")


def kson(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([KSON, *args], capture_output=True, text=True, env=env)


def test_validate_accepts_a_good_file_without_loading_it():
    run = kson("validate", str(SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json"))
    assert run.returncode == 0
    assert "Result: valid (kolada_values: 48 rows)" in run.stdout


def test_validate_prints_the_report_for_a_bad_file(tmp_path):
    bad = tmp_path / "kolada" / "fetched.json"
    bad.parent.mkdir()
    bad.write_text(
        '{"values": [{"kpi": "U21468", "period": 2022, "municipality": "188", '
        '"values": [{"gender": "T", "count": 1, "value": 91}]}]}',
        "utf-8",
    )
    run = kson("validate", str(bad))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "File:   fetched.json",
        "Source: kolada",
        "Result: rejected, 1 error(s)",
        "",
        "- values[0].municipality: malformed municipality id (expected: 4 digits or a group id G…)",
    ]


def test_validate_shows_a_file_whose_name_holds_a_personal_number_by_its_hash(tmp_path):
    named = tmp_path / "kolada" / "kund 19121212+1212.json"
    named.parent.mkdir()
    shutil.copyfile(SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json", named)
    shown = f"[file sha256 {sha256_of(named)[:16]}]"
    run = kson("validate", str(named))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"File:   {shown}",
        "Source: unknown",
        "Result: rejected, 1 error(s)",
        "",
        f"- file name: {RULE_FILE_NAME} (expected: a name without one)",
    ]
    as_json = kson("validate", "--json", str(named))
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["file"] == shown
    missing = kson("validate", str(tmp_path / "19121212-1212.csv"))
    assert missing.returncode == 2
    for said in (run, as_json, missing):
        assert "1212" not in said.stdout + said.stderr


def test_validate_names_an_unknown_format(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello", "utf-8")
    run = kson("validate", str(other))
    assert run.returncode == 2 and "not a format the platform knows" in run.stderr


def test_validate_a_file_that_aborts_its_reader_says_it_could_not_be_read(tmp_path):
    workbook = stray_cell_xlsx(tmp_path / "5567289045_HTJ_2023-01.xlsx")
    run = kson("validate", str(workbook))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout.splitlines()[:5] == [
        "File:   5567289045_HTJ_2023-01.xlsx",
        "Source: provider_reports",
        "Result: rejected, 1 error(s)",
        "",
        "- file: the file could not be read: the reader process ended with signal SIGABRT "
        "(a native library aborted, e.g. on an allocation beyond the memory limit of 4096 MB)",
    ]
    assert run.stderr == ""  # no traceback, no backtrace
    as_json = kson("validate", "--json", str(workbook))
    assert as_json.returncode == 2 and as_json.stderr == ""
    answer = json.loads(as_json.stdout)
    assert (answer["source"], answer["readable"], answer["valid"]) == (
        "provider_reports",
        False,
        False,
    )
    assert answer["errors"][0]["rule"].startswith("the file could not be read: ")


def test_run_then_status(tmp_path, monkeypatch):
    workspace = make_workspace(tmp_path, monkeypatch, ("kolada",))
    kolada = workspace.landing / "kolada"
    (kolada / "broken.json").write_text("{not json", "utf-8")
    # Hostile and unexpected files: none stops the run, each is listed.
    stray_cell_xlsx(workspace.landing / "provider_reports" / "5567289045_HTJ_2023-01.xlsx")
    (workspace.landing / "notes.txt").write_text("hello", "utf-8")
    (kolada / "line\nbreak.txt").write_text("hello", "utf-8")
    (kolada / "resent").mkdir()
    shutil.copy(kolada / "data_respondents_0188_2020-2023.json", kolada / "resent")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}

    run = kson("run", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout
    assert "checks: " in run.stdout and " 0 failed" in run.stdout
    assert "quarantined: kolada/broken.json" in run.stdout
    assert "quarantined: provider_reports/5567289045_HTJ_2023-01.xlsx (report in " in run.stdout
    assert "quarantined: notes.txt: no source family takes this file" in run.stdout
    assert "quarantined: kolada/line?break.txt: no source family takes this file" in run.stdout
    [file_id] = re.findall(r"file_id (\d+)", run.stdout)
    assert (
        f"  kolada/resent/data_respondents_0188_2020-2023.json: already loaded as file_id {file_id}"
        in run.stdout.splitlines()
    )
    assert not list((workspace.warehouse / "archive" / ".incoming").iterdir())
    assert "marts.survey_results: 32 rows" in run.stdout
    assert "time per stage:" in run.stdout and "dbt build + tests" in run.stdout
    assert_progress_shown(run.stdout, len(FAMILIES["kolada"].landing_files(workspace.landing)))
    # The UI lists the run under the job, with its tags.
    run_id = re.search(r"^Run (\S+): SUCCESS$", run.stdout, re.MULTILINE)[1]
    [listed] = [job for job in job_runs(tmp_path / "dagster_home") if job["runId"] == run_id]
    assert listed["status"] == "SUCCESS"
    assert listed["repositoryOrigin"]["repositoryLocationName"] == "kson"
    assert listed["tags"][TRIGGER_TAG] == "kson run"
    assert listed["tags"][LANDING_TAG] == str(workspace.landing.resolve())
    assert listed["tags"][COMMIT_TAG] == checkout_commit()

    status = kson("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "refresh_warehouse SUCCESS" in status.stdout
    assert "marts.survey_results: 32 rows" in status.stdout
    assert "Quarantined files: 4" in status.stdout
    assert "  kolada/line?break.txt: 1 error(s), first: line?break.txt: file: no source " in (
        status.stdout
    )
    assert (
        "kolada/broken.json: 1 error(s), first: broken.json: line 1, column 2: not valid JSON"
        in status.stdout
    )
    report = next((workspace.warehouse / "quarantine" / "kolada").glob("*.errors.txt"))
    assert "not valid JSON" in report.read_text("utf-8")


def assert_progress_shown(stdout: str, kolada_files: int) -> None:
    """Not on a terminal, `kson run` shows its progress as timestamped lines before the
    summary: each stage started and done, the files and the dbt models counted."""
    from orchestration.assets.dbt import kson_dbt_models

    progress = stdout.split("\nRun ")[0]
    stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    for shown in (
        "ingest kolada: started",
        f"ingest kolada: 1 of {kolada_files} files",
        f"ingest kolada: {kolada_files} of {kolada_files} files",
        "ingest kolada: done (",
        "dbt build + tests: started",
        "dbt build + tests: done (",
        "expectations: done (",
        "publish: done (",
        "report: done (",
    ):
        assert re.search(stamp + re.escape(shown), progress, re.MULTILINE), shown
    models = [
        (int(done), int(total))
        for done, total in re.findall(
            stamp + r"dbt build \+ tests: (\d+) of (\d+) models$", progress, re.MULTILINE
        )
    ]
    planned = len(kson_dbt_models.keys)
    assert models[0] == (1, planned) and models[-1] == (planned, planned), models


def test_validate_prints_a_report_a_provider_can_act_on(tmp_path, provider_sample):
    report = next((provider_sample / "provider_reports" / "2023").glob("*_HTJ_2023-05.csv"))
    raw = report.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp1252"
    lines = raw.decode(encoding).split("\r\n")
    unit = next(i for i, line in enumerate(lines) if re.match(r"E\d{5};", line))
    fields = lines[unit].split(";")
    fields[3] = "-5"  # negative granted hours
    lines[unit] = ";".join(fields)
    broken = tmp_path / report.name
    broken.write_bytes("\r\n".join(lines).encode(encoding))
    run = kson("validate", str(broken))
    assert run.returncode == 1
    assert "Source: provider_reports" in run.stdout
    assert f"- line {unit + 1}, column 4 (Beviljade timmar):" in run.stdout
    assert "(expected: " in run.stdout


def test_validate_json_for_a_visit_log(provider_sample):

    visits = provider_sample / "visit_logs" / "visits_2022.csv"
    run = kson("validate", "--json", str(visits))
    assert run.returncode == 0, run.stdout
    answer = json.loads(run.stdout)
    assert answer["source"] == "visit_logs" and answer["valid"] is True
    assert answer["rows"]["visit_logs"] == sum(1 for _ in visits.open()) - 1
