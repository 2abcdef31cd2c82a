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
        "SELECT member, year, contribution, contribution_booked, contribution_required, "
        "difference, is_shortfall, costs_booked, contribution_less_costs "
        "FROM marts.member_contributions",
    )
    return {(member, year, kind): tuple(map(str, rest)) for member, year, kind, *rest in rows}


def test_run_succeeds(run):
    workspace, result = run
    assert result.success, [
        c.description for c in result.get_asset_check_evaluations() if not c.passed
    ]
    assert stale_marts(workspace) == {}


def test_member_contributions_follow_the_agreement(run):
    """Seed 000: 2022 and 2023 raised by 2.5 % a year from the 2021 base (Region Stockholm's
    incl. the added 55 MSEK); 2024 is not covered: what was booked, no requirement."""
    workspace, _ = run
    rows = contributions(workspace)
    regular = {(m, y): r[:4] for (m, y, kind), r in rows.items() if kind == "medlemsbidrag"}
    assert regular == {
        # booked, required, difference, shortfall
        ("region_stockholm", 2021): ("1700000000.00", "1700000000.00", "0.00", "False"),
        ("region_stockholm", 2022): ("1751000000.00", "1742500000.00", "8500000.00", "False"),
        ("region_stockholm", 2023): ("1821040000.00", "1786062500.00", "34977500.00", "False"),
        ("region_stockholm", 2024): ("1912092000.00", "None", "None", "None"),
        ("norrtalje_kommun", 2021): ("1430000000.00", "1430000000.00", "0.00", "False"),
        ("norrtalje_kommun", 2022): ("1467180000.00", "1465750000.00", "1430000.00", "False"),
        # 1,430,000,000 × 1.025² = 1,502,393,750; 2023 was booked +1.0 % over 2022.
        ("norrtalje_kommun", 2023): ("1481851800.00", "1502393750.00", "-20541950.00", "True"),
        ("norrtalje_kommun", 2024): ("1563353649.00", "None", "None", "None"),
    }


def test_region_stockholm_extra_contribution_against_its_costs(run):
    """Seed 000, point 6: 2.6 % of the Region's share of the state grant for postponed care
    (476 and 335 MSEK in the sample), on its own line, against the costs booked on ansvar 410."""
    workspace, _ = run
    extra = {
        (m, y): r for (m, y, kind), r in contributions(workspace).items() if kind != "medlemsbidrag"
    }
    assert extra == {
        ("region_stockholm", 2021): (
            "12376000.00",
            "12376000.00",
            "0.00",
            "False",
            "11900000.00",
            "476000.00",
        ),
        ("region_stockholm", 2022): (
            "8710000.00",
            "8710000.00",
            "0.00",
            "False",
            "9150000.00",
            "-440000.00",
        ),
    }


def test_annual_result_is_the_ledgers_result(run, ledger_sample):
    """KSON's result per year equals the ledger's own #RES records (income − costs); the test
    sample has a surplus every year (its volumes are scaled down, the contributions are not)."""
    workspace, _ = run
    expected = {}
    for path in sorted((ledger_sample / "sie").glob("*.se")):
        lines = path.read_text("cp437").splitlines()
        [year] = [int(line.split()[2][:4]) for line in lines if line.startswith("#RAR 0 ")]
        res = [Decimal(line.split()[3]) for line in lines if line.startswith("#RES 0 ")]
        expected[year] = str(-sum(res))
    rows = query(
        workspace,
        "SELECT year, result, is_closed, is_negative, restore_by, amount_to_restore, "
        "restoration_status FROM marts.annual_result ORDER BY year",
    )
    assert [(year, str(result)) for year, result, *_ in rows] == sorted(expected.items())
    assert len(rows) == 4
    assert all(rest == [True, False, None, None, "not_negative"] for _, _, *rest in rows)


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
