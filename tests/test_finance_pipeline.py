"""The ledgers through the whole graph, with the providers' sample they were generated from:
member contributions, budget against outcome, cost per user and reimbursement control."""

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from conftest import stale_marts


@pytest.fixture(scope="module")
def run(full_run):
    """The session's run on every family (conftest), shared with tests/test_checks_fail.py."""
    return full_run


def query(workspace, sql: str) -> list[tuple]:
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        return con.execute(sql).fetchall()


def contributions(workspace) -> dict:
    rows = query(
        workspace,
        "SELECT member, year, contribution_booked, contribution_required, difference, "
        "restoration_status FROM marts.member_contributions",
    )
    return {(member, year): rest for member, year, *rest in rows}


def test_run_succeeds(run):
    workspace, result = run
    assert result.success, [
        c.description for c in result.get_asset_check_evaluations() if not c.passed
    ]
    assert stale_marts(workspace) == {}


def test_under_indexed_contribution_is_flagged_and_its_restoration_shown(run):
    workspace, _ = run
    rows = contributions(workspace)
    booked, required, difference, status = rows[("norrtalje_kommun", 2023)]
    # Seed 000: at least +2.5 % a year from the 2021 base (1,430 MSEK in the sample):
    # 1,430,000,000 × 1.025² = 1,502,393,750; 2023 was booked +1.0 % over 2022.
    assert str(required) == "1502393750.00"
    assert str(booked) == "1481851800.00"
    assert str(difference) == "-20541950.00"
    assert status == "restored in 2024"
    assert rows[("norrtalje_kommun", 2024)][3] == "met"


def test_region_stockholm_base_includes_the_added_55_msek(run):
    workspace, _ = run
    rows = contributions(workspace)
    assert str(rows[("region_stockholm", 2021)][1]) == "1700000000.00"
    assert all(
        status == "met"
        for (member, _), (*_, status) in rows.items()
        if member == "region_stockholm"
    )


def test_budget_outcome_agrees_with_the_vouchers_and_forecasts_the_year(run):
    workspace, _ = run
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        outcome = dict(
            con.execute(
                "SELECT year, sum(outcome) FROM marts.finance_budget_outcome "
                "WHERE account_class = '4' GROUP BY year"
            ).fetchall()
        )
        december = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE forecast_full_year = outcome_ytd) "
            "FROM marts.finance_budget_outcome WHERE month(month) = 12"
        ).fetchall()
        months = con.execute(
            "SELECT DISTINCT year, count(DISTINCT month) FROM marts.finance_budget_outcome "
            "GROUP BY year ORDER BY year"
        ).fetchall()
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        vouchers = dict(
            con.execute(
                "SELECT fiscal_year, sum(amount) FROM intermediate.int_sie__transactions_current "
                "WHERE account LIKE '4%' GROUP BY fiscal_year"
            ).fetchall()
        )
    assert outcome == vouchers  # #PSALDO per month adds up to the vouchers' rows, to the öre
    assert months == [(2021, 12), (2022, 12), (2023, 12), (2024, 12)]
    [(rows, equal)] = december
    assert rows > 0 and rows == equal  # in December the forecast is the outcome


def test_budget_file_is_the_budget_of_its_year(run):
    workspace, _ = run
    # The sample's budget_2024.xlsx holds the 2024 #PBUDGET figures: same totals either way.
    sources = query(
        workspace,
        "SELECT year, any_value(budget_source), sum(budget) FROM marts.finance_budget_outcome "
        "GROUP BY year ORDER BY year",
    )
    assert [(year, source) for year, source, _ in sources] == [
        (2021, "sie_pbudget"),
        (2022, "sie_pbudget"),
        (2023, "sie_pbudget"),
        (2024, "budget_file"),
    ]
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        [(pbudget,)] = con.execute(
            "SELECT sum(amount) FROM staging.stg_sie__balances "
            "JOIN intermediate.int_sie__files_current USING (file_id) "
            "WHERE balance_kind = 'PBUDGET' AND year_index = 0 AND fiscal_year = 2024"
        ).fetchall()
    assert sources[3][2] == pbudget


def half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_reimbursement_deviations_are_flagged_by_value(run):
    workspace, _ = run
    flagged = query(
        workspace,
        "SELECT strftime(month, '%Y-%m'), provider_name, service, status, basis, paid, due, "
        "difference_pct FROM marts.reimbursement_control WHERE flagged AND year >= 2022 "
        "ORDER BY month",
    )
    # The sample's deliberate over-payments: paid = due × (1 + pct), rounded half up to öre.
    expected = [
        ("2023-05", "Vårdhjälpen Rimbo AB", "hemtjanst", "per_performed_hour", "12.0"),
        ("2024-04", "Omsorg i Norrtälje AB", "hemsjukvard", "per_performed_hour", "15.0"),
        ("2024-10", "Björkens Vård och Omsorg AB", "hemtjanst", "per_performed_hour", "8.5"),
    ]
    assert [(m, name, service, basis) for m, name, service, _, basis, *_ in flagged] == [
        e[:4] for e in expected
    ]
    for (*_, status, _, paid, due, pct), (*_, configured) in zip(flagged, expected, strict=True):
        assert status == "overpaid"
        assert due > 0
        assert paid == half_up(due * (1 + Decimal(configured) / 100))
        assert pct == Decimal(configured).quantize(Decimal("0.01"))


def test_reimbursement_rows_without_deviation_match_volume_times_rate(run):
    workspace, _ = run
    [(rows, ok, exact)] = query(
        workspace,
        "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), "
        "count(*) FILTER (WHERE paid = due) FROM marts.reimbursement_control "
        "WHERE year >= 2022 AND NOT flagged",
    )
    assert rows > 100 and rows == ok == exact
    # The 2021 home care was paid, but the providers' sample starts in 2022: no volume.
    statuses = query(
        workspace,
        "SELECT DISTINCT service, status FROM marts.reimbursement_control WHERE year = 2021 "
        "ORDER BY ALL",
    )
    assert statuses == [
        ("hemrehab", "ok"),
        ("hemsjukvard", "ok"),
        ("hemtjanst", "paid_without_volume"),
    ]


def test_new_terms_from_february_2024_paid_more_than_2023(run):
    workspace, _ = run
    rows = query(
        workspace,
        "SELECT basis, sum(paid), sum(paid_same_month_previous_year) "
        "FROM marts.reimbursement_control WHERE service IN ('hemsjukvard', 'hemrehab') "
        "AND year = 2024 GROUP BY basis ORDER BY basis",
    )
    assert [basis for basis, *_ in rows] == ["per_performed_hour", "per_visit"]
    (_, paid_new_terms, paid_2023), (_, paid_january, _) = rows
    assert paid_new_terms > paid_2023  # seed 003: time-based pay paid out more than 2023
    assert paid_january > 0


def test_transition_support_is_shown_apart(run):
    workspace, _ = run
    [(total, months, rows, paid_equals_due)] = query(
        workspace,
        "SELECT sum(transition_support), list(DISTINCT strftime(month, '%Y-%m')), count(*), "
        "bool_and(paid = due) FROM marts.reimbursement_control WHERE transition_support <> 0",
    )
    assert total == Decimal("5000000.00")  # seed 003: 5 MSEK in autumn 2024
    assert months == ["2024-10"]
    assert rows == 8 and paid_equals_due  # not in paid, so those months are not flagged


def test_cost_per_user_is_net_cost_over_average_monthly_users(run):
    workspace, _ = run
    rows = {
        (year, service): rest
        for year, service, *rest in query(
            workspace,
            "SELECT year, service, indicator, net_cost, average_users, cost_per_user "
            "FROM marts.cost_per_user",
        )
    }
    # Computed here from two other marts: the ledger's outcome on activity 511 (hemtjänst)
    # and the users of the HTJ monthly reports.
    [(net_cost,)] = query(
        workspace,
        "SELECT sum(outcome) FROM marts.finance_budget_outcome WHERE year = 2023 "
        "AND activity_code = '511' AND account_class BETWEEN '3' AND '7'",
    )
    [(users,)] = query(
        workspace,
        "SELECT avg(users) FROM (SELECT report_month, sum(users) AS users "
        "FROM marts.provider_month WHERE area_code = 'HTJ' AND year = 2023 GROUP BY ALL)",
    )
    indicator, mart_net_cost, mart_users, per_user = rows[(2023, "hemtjanst")]
    assert indicator == "Kostnad per hemtjänsttagare"
    assert mart_net_cost == net_cost
    assert mart_users == Decimal(str(round(users, 1)))
    assert per_user == (net_cost / Decimal(str(users))).quantize(Decimal("1"))
    assert rows[(2023, "sarskilt_boende")][0] == "Kostnad per brukare, särskilt boende"
    assert rows[(2021, "hemtjanst")][2] is None  # no provider reports for 2021 in this sample
