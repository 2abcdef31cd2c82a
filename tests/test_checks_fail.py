"""Every blocking check can fail: on a copy of the sample warehouse (the session's run on every
family), each dbt data test and each expectation of each suite is fed a violating row and is
seen to fail. A check added without a way to fail it here fails these tests. No gate reads
the clock."""

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import duckdb
import pytest

from expectations import SUITES
from expectations.runner import describe, validate_frame
from orchestration.resources import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_project

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_build_db(full_run) -> Path:
    workspace, _ = full_run
    return workspace.build_db


def copy_of(build_db: Path, folder: Path) -> Path:
    target = folder / "build.duckdb"
    shutil.copyfile(build_db, target)
    return target


# --------------------------------------------------------------------------------------------
# dbt: every data test of the project in one `dbt test` on one mutated copy
# --------------------------------------------------------------------------------------------
# Singular tests: the violation each needs, by name.
SINGULAR = {
    # A question missing for a year and service.
    "assert_survey_results_complete": "DELETE FROM marts.survey_results "
    "WHERE rowid = (SELECT min(rowid) FROM marts.survey_results)",
}


KEY_TESTS = ("unique", "unique_combination_of_columns")


def quoted(node: dict, suffix: str = "") -> str:
    return f'"{node["schema"]}"."{node["alias"]}{suffix}"'


def violation(test: dict, relation: str, row: int) -> str:
    """A row of ``relation`` (within the test's ``where``) that breaks the generic test
    ``test``: for a key, a copy of its first row; for the others, row number ``row`` (1, 2, …,
    counted from 0 per relation: a row no other test changes) with the tested column changed."""
    kind = test["test_metadata"]["name"]
    column = test.get("column_name")
    where = test["config"].get("where") or "true"
    if kind in KEY_TESTS:
        return f"INSERT INTO {relation} SELECT * FROM {relation} WHERE {where} LIMIT 1"
    bad = {"not_null": "NULL", "relationships": "'not in the register'"}
    if kind == "accepted_values":
        values = test["test_metadata"]["kwargs"]["values"]
        bad[kind] = f"NOT {values[0]}" if values in ([True], [False]) else "'not accepted'"
    assert kind in bad, f"{test['name']}: add a violation for a {kind} test here"
    return (
        f'UPDATE {relation} SET "{column}" = {bad[kind]} WHERE rowid = '
        f"(SELECT rowid FROM {relation} WHERE {where} ORDER BY rowid LIMIT 1 OFFSET {row})"
    )


def order(test: dict) -> int:
    """0 for a singular test, 1 for a test whose violation changes a row, 2 for a copy."""
    if not test.get("test_metadata"):
        return 0
    return 2 if test["test_metadata"]["name"] in KEY_TESTS else 1


def test_every_dbt_data_test_fails_on_a_violating_row(sample_build_db, tmp_path):
    manifest = json.loads(dbt_project.manifest_path.read_text("utf-8"))
    tests = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    database = copy_of(sample_build_db, tmp_path)
    with duckdb.connect(str(database)) as con:
        # Every tested model and seed as a plain table (views and constraints would stop
        # the violations), copied before any of them is changed.
        tested = {
            n["attached_node"]: manifest["nodes"][n["attached_node"]]
            for n in tests.values()
            if n.get("attached_node")  # not the singular tests
        }
        for node in tested.values():
            con.execute(f"CREATE TABLE {quoted(node, '__copy')} AS SELECT * FROM {quoted(node)}")
        for node in tested.values():
            [(views,)] = con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                [node["schema"], node["alias"]],
            ).fetchall()
            con.execute(f"DROP {'VIEW' if views else 'TABLE'} {quoted(node)}")
            con.execute(f'ALTER TABLE {quoted(node, "__copy")} RENAME TO "{node["alias"]}"')
        # Singular tests first (a deletion must not take away a row copied for another), then
        # the changed rows, then the copies (a copy must not be the row changed for another).
        rows_changed = Counter()
        for test in sorted(tests.values(), key=order):
            if test.get("test_metadata"):
                relation = quoted(manifest["nodes"][test["attached_node"]])
                rows_changed[relation] += order(test) == 1
                sql = violation(test, relation, rows_changed[relation])
            else:
                assert test["name"] in SINGULAR, f"add the violation of {test['name']} here"
                sql = SINGULAR[test["name"]]
            con.execute(sql)
            assert con.fetchall() == [(1,)], f"{test['name']}: no row to change ({sql})"

    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(DBT_EXECUTABLE),
            "test",
            "--select",
            "test_type:data",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KSON_BUILD_DB": str(database)},
    )
    results = json.loads((target / "run_results.json").read_text("utf-8"))["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert set(statuses) == set(tests), completed.stdout[-3000:]
    assert {k: s for k, s in statuses.items() if s != "fail"} == {}, completed.stdout[-3000:]
    assert completed.returncode == 1


# --------------------------------------------------------------------------------------------
# Great Expectations: each expectation of each suite, one violating row at a time
# --------------------------------------------------------------------------------------------
def one_row(table: str, change: str, where: str = "true") -> str:
    return (
        f"UPDATE {table} SET {change} WHERE rowid = (SELECT min(rowid) FROM {table} WHERE {where})"
    )


SURVEY, PROVIDERS = "marts.survey_results", "marts.provider_month"
COSTS, REIMBURSEMENT = "marts.cost_per_user", "marts.reimbursement_control"
CONTRIBUTIONS = "marts.member_contributions"

# (suite, expectation as "type(column)") → the change that breaks it on one row.
VIOLATIONS = {
    ("survey_results", "expect_table_row_count_to_be_between()"): f"DELETE FROM {SURVEY}",
    **{
        ("survey_results", f"expect_column_values_to_be_between({column})"): one_row(
            SURVEY, f"{column} = 100.1", f"{column} IS NOT NULL"
        )
        for column in ("share_pct", "share_women_pct", "share_men_pct", "response_rate_pct")
    },
    ("survey_results", "expect_column_values_to_be_between(respondents)"): one_row(
        SURVEY, "respondents = -1", "respondents IS NOT NULL"
    ),
    ("provider_month", "expect_column_values_to_be_between(care_plan_share_pct)"): one_row(
        PROVIDERS, "care_plan_share_pct = 100.1"
    ),
    ("provider_month", "expect_column_values_to_be_between(performed_share_pct)"): one_row(
        PROVIDERS, "performed_share_pct = 150.1", "performed_share_pct IS NOT NULL"
    ),
    **{
        ("provider_month", f"expect_column_values_to_be_between({column})"): one_row(
            PROVIDERS, f"{column} = -1", f"{column} IS NOT NULL"
        )
        for column in (
            "users",
            "users_with_care_plan",
            "granted_hours",
            "performed_hours",
            "incidents_total",
            "unexecuted_decisions",
        )
    },
    ("provider_month", "expect_column_pair_values_a_to_be_greater_than_b(users)"): one_row(
        PROVIDERS, "users_with_care_plan = users + 1"
    ),
    ("contract_followup", "expect_column_values_to_be_between(action_plans)"): one_row(
        "marts.contract_followup",
        "action_plans = 0",
        "providers_followed_up > 0 AND NOT approved_without_remark",
    ),
    (
        "action_plans",
        "expect_column_pair_values_a_to_be_greater_than_b(latest_status_date)",
    ): one_row("marts.action_plans", "latest_status_date = created_on - 1"),
    **{
        ("member_contributions", f"expect_column_values_to_be_between({column})"): one_row(
            CONTRIBUTIONS, f"{column} = -1"
        )
        for column in ("contribution_booked", "contribution_required")
    },
    # A closed year (2023: December booked, exported in 2024) without March.
    **{
        ("finance_budget_outcome", f"expect_column_values_to_be_between({column})"): (
            f"UPDATE marts.finance_budget_outcome SET {figure} = 0 WHERE month = DATE '2023-03-01'"
        )
        for column, figure in (("months_with_budget", "budget"), ("months_with_outcome", "outcome"))
    },
    # One öre more on one row of a voucher of a current ledger, in the raw layer.
    ("ledger_vouchers", "expect_column_values_to_be_between(balance)"): one_row(
        "raw.sie_transactions",
        "amount = amount + 0.01",
        "row_kind = 'TRANS' AND file_id IN "
        "(SELECT file_id FROM intermediate.int_sie__files_current)",
    ),
    ("cost_per_user", "expect_column_values_to_be_between(cost)"): one_row(COSTS, "cost = -1"),
    ("cost_per_user", "expect_column_values_to_be_between(average_users)"): one_row(
        COSTS, "average_users = 0.5", "average_users IS NOT NULL"
    ),
    ("cost_per_user", "expect_column_values_to_be_between(months_reported)"): one_row(
        COSTS, "months_reported = 13"
    ),
    ("reimbursement_control", "expect_column_values_to_be_between(due)"): one_row(
        REIMBURSEMENT, "due = -1", "due IS NOT NULL"
    ),
    ("reimbursement_control", "expect_column_values_to_be_between(transition_support)"): one_row(
        REIMBURSEMENT, "transition_support = -1"
    ),
}


def expectation_name(config) -> str:
    kwargs = config.kwargs
    column = kwargs.get("column") or kwargs.get("column_A") or ""
    return f"{config.type}({column})"


@cache
def expectations() -> dict[tuple[str, str], object]:
    found = {}
    for suite, spec in SUITES.items():
        for expectation in spec.build().expectations:
            key = (suite, expectation_name(expectation.configuration))
            assert key not in found, f"two expectations named {key}"
            found[key] = expectation.configuration
    return found


def test_every_expectation_has_a_violation():
    assert set(VIOLATIONS) == set(expectations())


@pytest.fixture(scope="module")
def gx_warehouse(sample_build_db, tmp_path_factory):
    database = copy_of(sample_build_db, tmp_path_factory.mktemp("gx"))
    with duckdb.connect(str(database)) as con:
        yield con


def test_every_suite_passes_on_the_sample(gx_warehouse):
    for suite, spec in SUITES.items():
        frame = gx_warehouse.sql(spec.query).df()
        assert validate_frame(frame, spec.build(), spec.key_columns).failures == [], suite


@pytest.mark.parametrize(("suite", "expectation"), sorted(VIOLATIONS))
def test_expectation_fails_on_a_violating_row(gx_warehouse, suite, expectation):
    spec = SUITES[suite]
    gx_warehouse.begin()
    try:
        gx_warehouse.execute(VIOLATIONS[suite, expectation])
        frame = gx_warehouse.sql(spec.query).df()
    finally:
        gx_warehouse.rollback()
    failures = validate_frame(frame, spec.build(), spec.key_columns).failures
    [failure] = [f for f in failures if f.startswith(describe(expectations()[suite, expectation]))]
    if expectation.startswith("expect_table"):
        assert "observed 0" in failure
    else:
        assert re.search(r": 1 of \d+ rows fail; e\.g\. ", failure), failure


# --------------------------------------------------------------------------------------------
# What the rules say on the sample
# --------------------------------------------------------------------------------------------
def test_an_area_not_followed_up_is_no_failure(gx_warehouse):
    spec = SUITES["contract_followup"]
    gx_warehouse.begin()
    try:
        gx_warehouse.execute(
            "UPDATE marts.contract_followup SET providers_followed_up = 0, "
            "providers_approved = 0, providers_partly_approved = 0, providers_not_approved = 0, "
            "area_result = NULL, approved_without_remark = false, action_plans = 0, "
            "action_plans_open = 0, action_plan_statuses = NULL "
            "WHERE contract_year = 2023 AND area_code = 'HTJ'"
        )
        frame = gx_warehouse.sql(spec.query).df()
    finally:
        gx_warehouse.rollback()
    assert validate_frame(frame, spec.build(), spec.key_columns).failures == []


def test_action_plan_statuses_list_each_status_once(gx_warehouse):
    rows = gx_warehouse.execute(
        "SELECT area_code, action_plans, action_plan_statuses FROM marts.contract_followup "
        "WHERE contract_year = 2022 AND area_code IN ('HTJ', 'HLV') ORDER BY area_code"
    ).fetchall()
    assert rows == [("HLV", 2, "fortsätter följas: 1, godkänd: 1"), ("HTJ", 4, "godkänd: 4")]


CLOCK = re.compile(r"current_date|current_timestamp|\bnow\s*\(|\btoday\s*\(|get_current_time")


def test_no_check_reads_the_clock():
    """Gates decide on loaded data only: no suite query, dbt model, test or macro reads the
    date (a year is closed when its ledger says so)."""
    sources = [
        *(REPO_ROOT / "expectations").glob("*.py"),
        *(DBT_PROJECT_DIR / "models").rglob("*.sql"),
        *(DBT_PROJECT_DIR / "tests").rglob("*.sql"),
        *(DBT_PROJECT_DIR / "macros").rglob("*.sql"),
    ]
    assert len(sources) > 40
    readers = [p for p in sources if CLOCK.search(p.read_text("utf-8").lower())]
    assert readers == []
    assert [s for s, spec in SUITES.items() if CLOCK.search(spec.query.lower())] == []
