"""The finance suites on small hand-made tables: each rule they enforce fails on a broken row
and names it (the pipeline tests show they pass on the sample)."""

import duckdb
import pytest

from expectations import SUITES
from expectations.runner import validate_frame


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA reference; CREATE SCHEMA marts")
        yield con


def failures(con, suite: str) -> list[str]:
    spec = SUITES[suite]
    frame = con.sql(spec.query).df()
    return validate_frame(frame, spec.build(), spec.key_columns).failures


def test_unbalanced_voucher_and_account_outside_the_chart_fail(con):
    con.execute(
        "CREATE TABLE reference.chart_of_accounts AS "
        "SELECT * FROM (VALUES ('1930'), ('4660')) AS t (account)"
    )
    con.execute(
        "CREATE TABLE intermediate.int_sie__transactions_current AS SELECT * FROM (VALUES "
        "(2024, 'LF', 1, '4660', 100.00::DECIMAL(18,2)), (2024, 'LF', 1, '1930', -100.00), "
        "(2024, 'LF', 2, '4660', 100.00), (2024, 'LF', 2, '1930', -99.99), "
        "(2024, 'A', 3, '9999', 5.00), (2024, 'A', 3, '1930', -5.00)"
        ") AS t (fiscal_year, voucher_series, voucher_number, account, amount)"
    )
    found = failures(con, "ledger_vouchers")
    assert len(found) == 2
    balance, outside = found
    assert balance.startswith("expect_column_values_to_be_between(column='balance'")
    assert "1 of 3 rows fail" in balance
    assert "fiscal_year=2024, voucher_series=LF, voucher_number=2, balance=0.01" in balance
    assert outside.startswith("expect_column_values_to_be_between(column='rows_outside_chart'")
    assert "voucher_series=A, voucher_number=3" in outside


def test_closed_year_without_twelve_months_fails(con):
    con.execute(
        "CREATE TABLE marts.finance_budget_outcome AS "
        "SELECT year, make_date(year, m, 1) AS month, 10.00 AS budget, "
        "CASE WHEN year = 2022 AND m = 12 THEN 0 ELSE 9.00 END AS outcome "
        "FROM (VALUES (2022), (2023)) AS y (year), range(1, 13) AS r (m)"
    )
    [found] = failures(con, "finance_budget_outcome")
    assert found.startswith("expect_column_values_to_be_between(column='months_with_outcome'")
    assert "year=2022, months_with_outcome=11" in found


def test_volume_without_a_rate_fails_the_reimbursement_suite(con):
    con.execute(
        "CREATE TABLE marts.reimbursement_control AS SELECT * FROM (VALUES "
        "(DATE '2024-03-01', '556728-9045', 'Omsorg i Norrtälje AB', 'hemsjukvard', 'ok', "
        "100.00, 0.00), "
        "(DATE '2024-04-01', '556728-9045', 'Omsorg i Norrtälje AB', 'hemsjukvard', 'no_rate', "
        "NULL, 0.00)"
        ") AS t (month, provider_org_nr, provider_name, service, status, due, transition_support)"
    )
    [found] = failures(con, "reimbursement_control")
    assert found.startswith("expect_column_values_to_be_in_set(column='status'")
    assert "month=2024-04-01" in found
