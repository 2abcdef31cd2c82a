"""The finance suites' own logic on small hand-made tables: vouchers are told apart by their
#VER line, and a year is closed when its ledger says so, never by the clock."""

from datetime import date

import duckdb
import pytest

from expectations import SUITES
from expectations.runner import validate_frame


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        con.execute("CREATE SCHEMA staging; CREATE SCHEMA intermediate; CREATE SCHEMA marts")
        yield con


def failures(con, suite: str) -> list[str]:
    spec = SUITES[suite]
    frame = con.sql(spec.query).df()
    return validate_frame(frame, spec.build(), spec.key_columns).failures


def test_vouchers_without_series_or_number_are_told_apart_by_their_ver_line(con):
    # Two vouchers without series or number, each off by one öre in opposite directions:
    # summed together they would balance; each on its own does not.
    con.execute(
        "CREATE TABLE intermediate.int_sie__transactions_current AS SELECT * FROM (VALUES "
        "(1, 2024, NULL::VARCHAR, NULL::VARCHAR, 10, 100.00::DECIMAL(18,2)), "
        "(1, 2024, NULL, NULL, 10, -100.01), "
        "(1, 2024, NULL, NULL, 14, 100.01), (1, 2024, NULL, NULL, 14, -100.00), "
        "(1, 2024, 'LF', '1', 18, 50.00), (1, 2024, 'LF', '1', 18, -50.00)"
        ") AS t (file_id, fiscal_year, voucher_series, voucher_number, voucher_line, amount)"
    )
    [found] = failures(con, "ledger_vouchers")
    assert found.startswith("expect_column_values_to_be_between(column='balance'")
    assert "2 of 3 rows fail" in found
    assert "fiscal_year=2024, voucher_line=10" in found and "balance=-0.01" in found
    assert "fiscal_year=2024, voucher_line=14" in found and "voucher_line=18" not in found


def budget_outcome(con, months: dict[int, range], generated_on: dict[int, date | None]) -> None:
    """A mart with budget and outcome in ``months[year]`` (budget in all twelve) and one SIE
    file per year, its #RAR 0 the calendar year, generated on ``generated_on[year]``."""
    con.execute(
        "CREATE TABLE marts.finance_budget_outcome AS "
        "SELECT y.year, make_date(y.year, m, 1) AS month, 10.00 AS budget, "
        "CASE WHEN list_contains(y.months, m) THEN 9.00 ELSE 0 END AS outcome "
        "FROM (SELECT unnest(?) AS year, unnest(?) AS months) AS y, range(1, 13) AS r (m)",
        [list(months), [list(r) for r in months.values()]],
    )
    con.execute(
        "CREATE TABLE intermediate.int_sie__files_current AS SELECT year AS file_id, "
        "year AS fiscal_year, make_date(year, 1, 1) AS start_date, "
        "make_date(year, 12, 31) AS end_date FROM (SELECT unnest(?) AS year)",
        [list(months)],
    )
    con.execute(
        "CREATE TABLE staging.stg_sie__files AS "
        "SELECT unnest(?) AS file_id, unnest(?)::DATE AS generated_on",
        [list(generated_on), list(generated_on.values())],
    )


def test_on_2_january_the_year_just_ended_is_open_until_december_is_in(con):
    # Exported on 2 January 2025: 2024's outcome runs through November. The old suite took
    # every year before current_date as closed and failed here every January.
    budget_outcome(
        con,
        {2023: range(1, 13), 2024: range(1, 12)},
        {2023: date(2024, 2, 15), 2024: date(2025, 1, 2)},
    )
    assert failures(con, "finance_budget_outcome") == []


def test_a_ledger_exported_before_its_year_ends_is_open(con):
    # Generated on 20 December with a few December bookings: not closed yet.
    budget_outcome(con, {2024: [1, 2, 3, 12]}, {2024: date(2024, 12, 20)})
    assert failures(con, "finance_budget_outcome") == []


def test_a_closed_year_missing_a_month_fails(con):
    # 2023 is closed (exported after its end, December booked) but has no outcome for March;
    # a ledger without #GEN is closed by its December alone.
    budget_outcome(
        con,
        {2022: [m for m in range(1, 13) if m != 6], 2023: [m for m in range(1, 13) if m != 3]},
        {2022: None, 2023: date(2024, 2, 15)},
    )
    [found] = failures(con, "finance_budget_outcome")
    assert found.startswith("expect_column_values_to_be_between(column='months_with_outcome'")
    assert "2 of 2 rows fail" in found
    assert "year=2022, months_with_outcome=11" in found
    assert "year=2023, months_with_outcome=11" in found
