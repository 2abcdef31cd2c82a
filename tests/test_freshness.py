"""Freshness (ingest/freshness.py): when each family's next file is due, the WARN check per
family in a run, and `kson status`. Every date is given: nothing here reads the clock."""

import re
from datetime import date

import duckdb
import pytest

from ingest.freshness import SCHEDULES, Schedule, assess, assess_all, due_date
from ingest.registry import FAMILIES
from orchestration import cli


def test_every_family_has_a_schedule_but_the_action_plans():
    assert set(FAMILIES) - set(SCHEDULES) == {"action_plans"}
    for family, schedule in SCHEDULES.items():
        assert schedule.table in FAMILIES[family].tables


@pytest.mark.parametrize(
    ("family", "period", "due"),
    [
        ("provider_reports", date(2024, 12, 1), date(2025, 1, 10)),
        ("visit_logs", date(2025, 1, 1), date(2025, 2, 10)),
        ("sie", date(2025, 1, 1), date(2025, 2, 15)),
        ("health_care_volumes", date(2024, 6, 1), date(2024, 7, 15)),
        ("kolada", date(2025, 1, 1), date(2025, 12, 31)),
        ("budget", date(2025, 1, 1), date(2024, 12, 31)),
        ("manual_indicators", date(2024, 1, 1), date(2025, 3, 31)),
        ("contract_followup", date(2024, 1, 1), date(2025, 5, 31)),
    ],
)
def test_due_dates(family, period, due):
    assert due_date(SCHEDULES[family], period) == due


def test_a_due_day_past_the_months_end_is_its_last_day():
    end_of_month = Schedule("t", "p", 1, 1, 31, "by the end of the following month")
    assert due_date(end_of_month, date(2024, 1, 1)) == date(2024, 2, 29)


@pytest.fixture
def reports():
    """Two provider-report files: 2024-11 and a withdrawn 2024-12."""
    con = duckdb.connect()
    con.execute(
        "CREATE SCHEMA raw; CREATE TABLE raw.load_log (file_id BIGINT, withdrawn_at TIMESTAMPTZ);"
        "CREATE TABLE raw.provider_reports (file_id BIGINT, period VARCHAR);"
        "INSERT INTO raw.load_log VALUES (1, NULL), (2, now());"
        "INSERT INTO raw.provider_reports VALUES (1, '2024-10'), (1, '2024-11'), (2, '2024-12')"
    )
    return con


def test_the_latest_period_held_sets_the_due_date_and_withdrawn_files_do_not_count(reports):
    on_time = assess(reports, "provider_reports", date(2024, 12, 10))
    assert (on_time.latest, on_time.next_period, on_time.due) == (
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 10),
    )
    assert not on_time.overdue
    assert on_time.describe() == (
        "latest 2024-11; 2024-12 due by 2025-01-10 (as of 2024-12-10; due monthly, by the "
        "10th of the following month)"
    )
    assert not assess(reports, "provider_reports", date(2025, 1, 10)).overdue
    late = assess(reports, "provider_reports", date(2025, 1, 13))
    assert late.overdue
    assert "2024-12 due by 2025-01-10: OVERDUE since 2025-01-11 (3 days) (as of 2025-01-13" in (
        late.describe()
    )


def test_a_family_without_a_file_or_table_is_not_overdue(reports):
    nothing = assess(reports, "visit_logs", date(2030, 1, 1))
    assert (nothing.latest, nothing.overdue) == (None, False)
    assert nothing.describe().startswith("no file loaded yet, nothing is due (as of 2030-01-01")
    families = [f.family for f in assess_all(reports, date(2025, 2, 1))]
    assert families[0] == "provider_reports"  # the only overdue one comes first
    assert sorted(families) == sorted(SCHEDULES)


def latest(workspace, today):
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        return {f.family: f for f in assess_all(con, today)}


def test_the_sample_holds_these_periods(full_run):
    workspace, _ = full_run
    found = latest(workspace, date(2025, 1, 1))
    held = {family: f.label(f.latest) for family, f in found.items()}
    assert held == {
        "provider_reports": "2024-12",
        "visit_logs": "2024-12",
        "sie": "2024-12",
        "health_care_volumes": "2024-12",
        "budget": "2024",
        "kolada": "2023",
        "manual_indicators": "2023",
        "contract_followup": "2024",
    }
    assert {family for family, f in found.items() if f.overdue} == {"kolada", "budget"}


def test_a_freshness_check_per_family_warns_and_keeps_no_mart_stale(full_run):
    from conftest import stale_marts

    workspace, result = full_run
    checks = {
        c.asset_key.path[-1]: c
        for c in result.get_asset_check_evaluations()
        if c.check_name == "freshness"
    }
    assert set(checks) == {schedule.table for schedule in SCHEDULES.values()}
    for family, schedule in SCHEDULES.items():
        check = checks[schedule.table]
        assert check.severity.value == "WARN"
        as_of = date.fromisoformat(check.metadata["as_of"].value)
        expected = latest(workspace, as_of)[family]
        assert (check.passed, check.description) == (not expected.overdue, expected.describe())
        assert f"(as of {as_of}" in check.description
    # The sample ends in 2024: as of the run every family is overdue, and no mart is stale.
    assert not any(check.passed for check in checks.values())
    assert stale_marts(workspace) == {}


def test_kson_status_lists_overdue_families_first(full_run, tmp_path, monkeypatch, capsys):
    workspace, _ = full_run
    monkeypatch.setenv("KSON_LANDING_DIR", str(workspace.landing))
    monkeypatch.setenv("KSON_WAREHOUSE", str(workspace.serving_db))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Freshness (as of ") :].splitlines()
    assert re.fullmatch(r"Freshness \(as of \d{4}-\d\d-\d\d, 8 overdue\):", section[0])
    lines = section[1:9]
    # The longest overdue first: the sample's data ends in 2024, so all are overdue by now.
    assert [line.split(":")[0].strip() for line in lines] == [
        "budget",  # 2025 due by 2024-12-31
        "kolada",  # 2024 due by 2024-12-31
        "provider_reports",
        "visit_logs",  # 2025-01 due by 2025-01-10
        "health_care_volumes",
        "sie",  # 2025-01 due by 2025-01-15
        "manual_indicators",  # 2024 due by 2025-03-31
        "contract_followup",  # 2025 due by 2026-05-31
    ]
    assert all("OVERDUE since" in line for line in lines)
