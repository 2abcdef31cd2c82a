"""The providers' families through the whole graph: calibrated figures, resubmission, PII."""

import re

import duckdb
import pytest

from conftest import PROVIDER_SOURCES, make_workspace, run_refresh, stale_marts
from ingest import provider_reports

PERSONNUMMER = "19121212-1212"


@pytest.fixture(scope="module")
def run(tmp_path_factory, provider_sample):
    """One run on Kolada + the providers' sample, with one report carrying a personnummer."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        workspace = make_workspace(
            tmp_path_factory.mktemp("providers"),
            monkeypatch,
            ("kolada", *PROVIDER_SOURCES),
            provider_sample,
        )
        # A provider's corrected report (v3) in which a personnummer was typed into the unit
        # name: it must be quarantined and the number must reach nothing.
        folder = workspace.landing / "provider_reports" / "2023"
        original = next(folder.glob("*_HTJ_2023-05.csv"))
        raw = original.read_bytes()
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp1252"
        text = raw.decode(encoding)
        unit_line = next(line for line in text.splitlines() if re.match(r"E\d{5};", line))
        unit_name = unit_line.split(";")[1]
        pii = folder / original.name.replace(".csv", "_v3.csv")
        pii.write_bytes(text.replace(unit_name, f"Brukare {PERSONNUMMER}", 1).encode(encoding))
        result = run_refresh()
        yield workspace, result, pii


def serving(workspace):
    return duckdb.connect(str(workspace.serving_db), read_only=True)


def test_run_publishes_every_mart(run):
    workspace, result, _ = run
    assert result.success, [
        c.description for c in result.get_asset_check_evaluations() if not c.passed
    ]
    assert stale_marts(workspace) == {}
    with serving(workspace) as con:
        tables = dict(
            con.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        )
    assert set(tables) == {
        "survey_results",
        "provider_month",
        "contract_followup",
        "action_plans",
        "member_contributions",
        "annual_result",
        "finance_budget_outcome",
        "cost_per_user",
        "reimbursement_control",
        "kpi_benchmark",
        "indicator_values",
        "dq_results",  # the check history, not gated
    }


def test_reimbursement_control_waits_for_a_ledger(run):
    """Without a ledger the reported home-care hours are due but not compared: no flags."""
    workspace, _, _ = run
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT service, status, flagged, count(*), sum(due) > 0 "
            "FROM marts.reimbursement_control GROUP BY ALL"
        ).fetchall()
    assert [row[:3] for row in rows] == [("hemtjanst", "not_in_ledger", False)]
    assert rows[0][3] > 100 and rows[0][4]


@pytest.mark.parametrize(("year", "expected"), [(2022, 67), (2023, 70)])
def test_performed_of_granted_home_care_time_matches_seed_004(run, year, expected):
    workspace, _, _ = run
    with serving(workspace) as con:
        [(share,)] = con.execute(
            "SELECT 100 * sum(performed_hours) / sum(granted_hours) FROM marts.provider_month "
            "WHERE area_code = 'HTJ' AND year = ?",
            [year],
        ).fetchall()
    assert round(float(share)) == expected


@pytest.mark.parametrize(
    ("family", "year", "expected"),
    [
        ("hemtjanst", 2022, 84),
        ("hemtjanst", 2023, 90),
        ("sarskilt_boende", 2022, 90),
        ("sarskilt_boende", 2023, 90),
    ],
)
def test_care_plan_shares_match_seed_004(run, family, year, expected):
    workspace, _, _ = run
    with serving(workspace) as con:
        [(share,)] = con.execute(
            "SELECT 100 * sum(users_with_care_plan) / sum(users) FROM marts.provider_month "
            "WHERE service_family = ? AND year = ?",
            [family, year],
        ).fetchall()
    assert round(float(share)) == expected


def test_contract_followup_2022_matches_seed_002(run):
    workspace, _, _ = run
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT area_code, area_result, approved_without_remark, hsl_deep_followup, "
            "action_plans FROM marts.contract_followup WHERE contract_year = 2022"
        ).fetchall()
        plans = dict(
            con.execute(
                "SELECT area_code, list(DISTINCT latest_status ORDER BY latest_status) "
                "FROM marts.action_plans WHERE contract_year = 2022 GROUP BY area_code"
            ).fetchall()
        )
    assert len(rows) == 44
    assert sum(approved for _, _, approved, _, _ in rows) == 33
    results = {area: result for area, result, _, _, _ in rows}
    assert [area for area, result in results.items() if result == "ej godkänd"] == ["FOT"]
    assert all(count >= 1 for _, _, approved, _, count in rows if not approved)
    assert plans["SABO"] == ["godkänd"] and plans["KTB"] == ["godkänd"]
    assert "fortsätter följas" in plans["TURB"]
    assert {area for area, _, _, hsl, _ in rows if hsl} >= {"SABO", "KTB", "BHSV", "HREH"}


def test_corrected_report_replaces_the_earlier_version(run, provider_sample):
    workspace, _, _ = run
    [v2] = (provider_sample / "provider_reports" / "2023").glob("*_HTJ_2023-03_v2.*")
    v1 = next(p for p in v2.parent.glob("*_HTJ_2023-03.*") if p.stem == v2.stem[:-3])
    corrected = provider_reports.read(v2).tables["provider_reports"]
    earlier = provider_reports.read(v1).tables["provider_reports"]
    org_nr = corrected["org_nr"][0]
    with serving(workspace) as con:
        mart = dict(
            con.execute(
                "SELECT unit_id, performed_hours FROM marts.provider_month "
                "WHERE provider_org_nr = ? AND area_code = 'HTJ' "
                "AND report_month = DATE '2023-03-01'",
                [org_nr],
            ).fetchall()
        )
        [(version,)] = con.execute(
            "SELECT DISTINCT report_version FROM marts.provider_month WHERE provider_org_nr = ? "
            "AND area_code = 'HTJ' AND report_month = DATE '2023-03-01'",
            [org_nr],
        ).fetchall()
    assert version == 2
    assert mart == dict(zip(corrected["unit_id"], corrected["performed_hours"], strict=True))
    assert mart != dict(zip(earlier["unit_id"], earlier["performed_hours"], strict=True))
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        versions = con.execute(
            "SELECT DISTINCT l.file_name FROM raw.provider_reports r JOIN raw.load_log l "
            "USING (file_id) WHERE r.org_nr = ? AND r.area_code = 'HTJ' AND r.period = '2023-03' "
            "ORDER BY 1",
            [org_nr],
        ).fetchall()
    assert [name for (name,) in versions] == [v1.name, v2.name]


def test_visit_logs_recompute_performed_time(run):
    workspace, _, _ = run
    with serving(workspace) as con:
        rows = con.execute(
            "SELECT provider_name, sum(performed_hours) / sum(visit_performed_hours) - 1 "
            "FROM marts.provider_month WHERE area_code = 'HTJ' AND visits IS NOT NULL "
            "GROUP BY provider_name"
        ).fetchall()
    differences = {name: float(diff) for name, diff in rows}
    off = {name for name, diff in differences.items() if abs(diff) > 0.02}
    assert off == {"Sjöstadens Hemtjänst AB", "Edsbro Hemtjänst AB"}
    assert all(0.04 <= differences[name] <= 0.11 for name in off)


def test_a_personnummer_is_quarantined_and_stored_nowhere(run):
    workspace, _, pii_file = run
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        [(first_error, report_path)] = con.execute(
            "SELECT first_error, report_path FROM raw.quarantine_log WHERE file_name = ?",
            [pii_file.name],
        ).fetchall()
    assert "personal identity number" in first_error
    assert re.search(r"row \d+|line \d+", first_error) and "Enhetsnamn" in first_error
    report = (workspace.warehouse / "quarantine" / report_path).read_text("utf-8")
    assert "not copied into quarantine" in report
    digits = PERSONNUMMER.replace("-", "")
    for path in workspace.warehouse.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            text = path.read_bytes().decode("utf-8", "replace")
            assert PERSONNUMMER not in text and digits not in text, path
    for database in (workspace.build_db, workspace.serving_db):
        with duckdb.connect(str(database), read_only=True) as con:
            columns = con.execute(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                "WHERE data_type = 'VARCHAR' AND NOT internal"
            ).fetchall()
            for schema, table, column in columns:
                hits = con.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f"""WHERE regexp_replace("{column}", '[-+]', '', 'g') LIKE ?""",
                    [f"%{digits[2:]}%"],
                ).fetchall()
                assert hits == [(0,)], (database.name, schema, table, column)
    assert pii_file.exists()  # the landing file itself stays with the sender
