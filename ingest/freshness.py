"""When each source family's next file is due, and whether it is overdue: the one place to change.

A family's latest period is the latest month or year its loaded rows cover (withdrawn files
left out), read from its raw table: the period the data covers, not when it was loaded. The
file of the period after it is due on ``day`` of the month ``months_after`` months after that
period's last month (the day capped at the month's length): a provider's report for 2024-12 is
due by 2025-01-10. Freshness only warns: no publication gate reads it, so it may read the clock
(``today`` is a parameter all the same).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb

RAW_SCHEMA = "raw"


@dataclass(frozen=True)
class Schedule:
    """When a family's files are due."""

    table: str  # the raw table whose rows say which periods the family holds
    period: str  # SQL on a row of ``table``: the first day of the month or year it covers
    months: int  # the length of a period: 1 (monthly) or 12 (yearly)
    months_after: int  # the due month, counted from the period's last month
    day: int  # the due day of that month
    rule: str  # the due date in words


# Families not listed have no schedule: action_plans is exported whenever a plan's status
# changes.
SCHEDULES: dict[str, Schedule] = {
    "provider_reports": Schedule(
        "provider_reports",
        "strptime(period, '%Y-%m')::DATE",
        1,
        1,
        10,
        "monthly, by the 10th of the following month",
    ),
    "visit_logs": Schedule(
        "visit_logs",
        "date_trunc('month', planned_start)::DATE",
        1,
        1,
        10,
        "monthly, by the 10th of the following month (as the providers' monthly reports)",
    ),
    "sie": Schedule(
        "sie_transactions",
        "date_trunc('month', voucher_date)::DATE",
        1,
        1,
        15,
        "monthly, by the 15th of the following month (the month's ledger closed)",
    ),
    "health_care_volumes": Schedule(
        "health_care_volumes",
        "make_date(year, month, 1)",
        1,
        1,
        15,
        "monthly, by the 15th of the following month (the year so far, one file per year)",
    ),
    "kolada": Schedule(
        "kolada_values",
        "make_date(period, 1, 1)",
        12,
        0,
        31,
        "yearly, by 31 December of the year (the survey is published around October)",
    ),
    "budget": Schedule(
        "budget_lines",
        "make_date(year, 1, 1)",
        12,
        -12,
        31,
        "yearly, by 31 December before the budget's year",
    ),
    "manual_indicators": Schedule(
        "manual_indicator_values",
        "make_date(year, 1, 1)",
        12,
        3,
        31,
        "yearly, by 31 March of the following year",
    ),
    "contract_followup": Schedule(
        "contract_followup",
        "make_date(contract_year, 1, 1)",
        12,
        5,
        31,
        "yearly, by 31 May of the following year (the board has it in June)",
    ),
}


@dataclass(frozen=True)
class Freshness:
    """A family's latest period and when the next file is (or was) due, as of ``today``."""

    family: str
    rule: str
    today: date
    latest: date | None = None  # the first day of the latest period held; None: no file yet
    next_period: date | None = None
    due: date | None = None

    @property
    def monthly(self) -> bool:
        return SCHEDULES[self.family].months == 1

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.today > self.due

    def label(self, period: date) -> str:
        return f"{period:%Y-%m}" if self.monthly else f"{period:%Y}"

    def describe(self) -> str:
        """One line, e.g. 'latest 2024-11; 2024-12 due by 2025-01-10: OVERDUE since
        2025-01-11 (as of 2025-02-01)'."""
        as_of = f"(as of {self.today:%Y-%m-%d}; due {self.rule})"
        if self.latest is None or self.next_period is None or self.due is None:
            return f"no file loaded yet, nothing is due {as_of}"
        text = f"latest {self.label(self.latest)}; {self.label(self.next_period)} due by {self.due}"
        if self.overdue:
            since = date.fromordinal(self.due.toordinal() + 1)
            return f"{text}: OVERDUE since {since} ({(self.today - self.due).days} days) {as_of}"
        return f"{text} {as_of}"


def local_today() -> date:
    """Today in Sweden: the clock, for the checks and ``kson status`` only."""
    return datetime.now(ZoneInfo("Europe/Stockholm")).date()


def _add_months(first_day: date, months: int) -> date:
    index = first_day.year * 12 + first_day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def due_date(schedule: Schedule, period: date) -> date:
    """When the file of the period starting on ``period`` is due."""
    month = _add_months(period, schedule.months - 1 + schedule.months_after)
    last_day = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=min(schedule.day, last_day))


def latest_period(con: duckdb.DuckDBPyConnection, family: str) -> date | None:
    """The first day of the latest period a family's loaded, not withdrawn, rows cover."""
    schedule = SCHEDULES[family]
    tables = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? UNION ALL SELECT view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND schema_name = ?",
            [RAW_SCHEMA, RAW_SCHEMA],
        ).fetchall()
    }
    if not {schedule.table, "load_log"} <= tables:
        return None
    [(latest,)] = con.execute(
        f"SELECT max({schedule.period}) FROM {RAW_SCHEMA}.{schedule.table} WHERE file_id NOT IN "
        f"(SELECT file_id FROM {RAW_SCHEMA}.load_log WHERE withdrawn_at IS NOT NULL)"
    ).fetchall()
    return latest


def assess(con: duckdb.DuckDBPyConnection, family: str, today: date) -> Freshness:
    """A family's freshness as of ``today`` from what the build database holds."""
    schedule = SCHEDULES[family]
    latest = latest_period(con, family)
    if latest is None:
        return Freshness(family, schedule.rule, today)
    following = _add_months(latest, schedule.months)
    return Freshness(family, schedule.rule, today, latest, following, due_date(schedule, following))


def assess_all(con: duckdb.DuckDBPyConnection, today: date) -> list[Freshness]:
    """Every scheduled family, overdue ones first (longest overdue first), then by name."""
    found = [assess(con, family, today) for family in SCHEDULES]
    return sorted(found, key=lambda f: (not f.overdue, f.due or date.max, f.family))
