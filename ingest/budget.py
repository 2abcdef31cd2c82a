"""The controllers' budget file (*budgetfil*) → the raw table ``budget_lines``.

One landing file is KSON's whole budget of one year, ``budget_<YYYY>[_v<N>].xlsx|csv``: an
``.xlsx`` with the table on sheet ``Budget`` or a CSV exported from Swedish Excel (``;``,
decimal comma, UTF-8 with or without BOM, or Windows-1252), one row per year × month × account
× responsibility × activity. Both are read into the same grid of text cells as the providers'
monthly reports (``ingest.spreadsheet``), then validated with polars expressions against
``docs/contracts/budget.md``: the year, month, account (chart of accounts), activity (register
of activities) and amount (SEK, at most 2 decimals, costs positive, income negative) of every
row, the key unique, no personal identity number anywhere in the file (``ingest.spreadsheet``)
and no text that a spreadsheet would run as a formula. A file is accepted whole or not at all;
every error names the place (sheet, row, column; or line, column) and the rule, never the
offending value when it may be personal data.

The budget in the SIE ledger (``#PBUDGET``) is read by ``ingest.sie``; the marts decide which
budget they use. A file with a higher version replaces the lower one in the marts (dbt), both
stay in the raw layer.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from pathlib import Path

import polars as pl

from ingest import reference
from ingest.sheet_layout import (
    Column,
    Layout,
    Plan,
    check_rows,
    open_table,
    table_at_first_row,
    table_rows,
)
from ingest.spreadsheet import (
    Family,
    Grid,
    accepts_table_file,
    close_to_whole,
    first_rule,
    number,
    two_decimal_number,
)
from ingest.validation import Bound, ErrorCollector, ReadResult

SOURCE = "budget"
TABLE = "budget_lines"

SCHEMA = pl.Schema(
    {
        "year": pl.Int32,
        "month": pl.Int32,
        "account": pl.String,
        "responsibility": pl.String,
        "activity": pl.String,
        "amount": pl.Decimal(18, 2),
        "source_row": pl.Int32,
        "budget_version": pl.Int32,  # from the file name: no suffix = 1
    }
)
TABLE_SCHEMAS = {TABLE: SCHEMA}

SHEET = "Budget"
FAMILY = Family(
    sheet=SHEET,
    content="the budget",
    filled="the budget table",
    no_personal_data="no personal identity numbers: the budget holds no personal data",
)
FILE_NAME = re.compile(r"^budget_(\d{4})(?:_v([2-9]|[1-9]\d+))?\.(?i:xlsx|csv)$")
FILE_NAME_FORM = (
    "budget_<YYYY>[_v<N>].xlsx or .csv, N ≥ 2, e.g. budget_2024.xlsx or budget_2024_v2.csv"
)
ACCOUNT = r"^\d{4}$"
# Plausible amounts (docs/contracts/budget.md, "Bounds"): a line, and all lines together.
AMOUNT = Bound(-(10**11), 10**11, "SEK a budget line")
TOTAL = Bound(0, 10**13, "SEK, the sum of |Belopp| over all lines")
# Excel stores numbers as binary doubles: a cell 159341666.67 reads back as
# 159341666.669999987. Tolerance when checking "at most 2 decimals" on such a value, per unit
# of the value in öre (tighter than the reports' 1e-11: a third decimal must not slip through).
CENTS_TOLERANCE = 1e-13


# Kinds: "year", "month", "account", "text", "activity" or "amount". An amount may have 9
# digits, so it is not checked for a personal identity number without its leading zero.
COLUMNS: tuple[Column, ...] = (
    Column("År", "year", "year"),
    Column("Månad", "month", "month"),
    Column("Konto", "account", "account"),
    Column("Ansvar", "responsibility", "text"),
    Column("Verksamhet", "activity", "activity"),
    Column("Belopp", "amount", "amount", nine_digits=True),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
# The table header is the first non-empty row (row 1 by the contract).
FIND_LAYOUT = table_at_first_row(COLUMNS, "the budget table")
KEY = ("year", "month", "account", "responsibility", "activity")

RULE_EMPTY = "empty cell in a required column"
RULE_NOT_NUMBER = "not a number"
RULE_NOT_WHOLE = "not a whole number"
RULE_YEAR = "year differs from the year in the file name"
RULE_MONTH = "month outside 1–12"
RULE_ACCOUNT = "malformed account (not 4 digits)"
RULE_ACCOUNT_UNKNOWN = "unknown account (not in the chart of accounts)"
RULE_ACTIVITY_UNKNOWN = "unknown activity code (not in the register of activities)"
RULE_DECIMALS = "more than 2 decimals"
RULE_TOO_LARGE = "number too large"
RULE_OUT_OF_RANGE = Bound.RULE
RULE_TOTAL = "the amounts of the file add up to more than is plausible"
RULE_DUPLICATE = (
    "budget line appears more than once in the file (same År, Månad, Konto, Ansvar and Verksamhet)"
)


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a budget file: an ``.xlsx`` or ``.csv`` named
    ``budget_…``, or a ``.csv`` whose first line has the columns Konto and Belopp (used by
    ``kson validate``)."""
    return accepts_table_file(path, "budget_", {"konto", "belopp"})


def read(path: Path) -> ReadResult:
    """Parse and validate one budget file (``.xlsx`` or ``.csv``).

    Returns the budget lines as table ``budget_lines``, or only the errors (all of them, at
    most ``MAX_ERRORS_PER_RULE`` listed per rule) when any rule of the contract is broken.
    """
    errors = ErrorCollector(path.name)
    match = FILE_NAME.match(path.name)
    if match is None:
        errors.add("file name", "file name does not follow the naming rule", FILE_NAME_FORM)
    file_year = int(match.group(1)) if match else None
    # Another suffix: the file name error above already says .xlsx or .csv.
    grid, layout, scanned = open_table(path, FAMILY, FIND_LAYOUT, errors)
    if grid is None:
        return ReadResult(errors=errors.finish("file"), scanned=scanned)

    notes: list[str] = []
    table = _check_table(grid, layout, file_year, errors, notes)
    if errors or table is None or file_year is None:
        return ReadResult(errors=errors.finish(grid.where), notes=notes, scanned=scanned)
    version = int(match.group(2) or 1) if match else 1
    table = table.with_columns(pl.lit(version, pl.Int32).alias("budget_version"))
    return ReadResult(tables={TABLE: table}, notes=notes, scanned=scanned)


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------
def _amount_cases(cell: pl.Expr, empty: pl.Expr) -> tuple[list, pl.Expr]:
    """Rules and value (in öre, Int64) of an amount: plain text with at most two decimals is
    parsed exactly; anything else numeric (Excel's float text, exponents) as a float."""
    plain = pl.col("__plain_amount")
    exact = pl.col("__exact_amount")  # Decimal(38, 2), null unless plain
    approx = pl.col("__float_amount")  # Float64, null unless numeric and not plain
    cents = approx * 100
    expected = "an amount in SEK with at most 2 decimals, e.g. 1250000 or -33850,50"
    cases = [
        (empty, RULE_EMPTY, f"{expected} (write 0 for zero)"),
        (cell.is_not_null() & ~plain & approx.is_null(), RULE_NOT_NUMBER, expected),
        (
            (plain & (exact.is_null() | AMOUNT.outside(exact))) | AMOUNT.outside(approx),
            RULE_OUT_OF_RANGE,
            AMOUNT.expected,
        ),
        (approx.is_not_null() & ~close_to_whole(cents, CENTS_TOLERANCE), RULE_DECIMALS, expected),
    ]
    value = (
        pl.when(plain)
        .then((exact * 100).cast(pl.Int64, strict=False))
        .otherwise(cents.round(0).cast(pl.Int64, strict=False))
    )
    return cases, value


@cache
def _plan(fields: tuple[str, ...], file_year: int | None, is_xlsx: bool) -> Plan:
    """The rules for a table with columns ``fields`` (all of them unless some are missing);
    ``file_year`` is the file name's year (None when the name is wrong). Cached per shape.
    Stages: parsed numbers, values, rules, valid values; ``__key``: the row's duplicate
    rule."""
    present = [COLUMN_BY_FIELD[name] for name in fields]
    stages: list[pl.Expr] = []
    for column in present:
        if column.kind in ("year", "month"):
            stages.append(number(column.field).alias(f"__num_{column.field}"))
        elif column.kind == "amount":
            stages += two_decimal_number(column.field, "_amount")

    known_accounts = sorted(reference.known_accounts())
    known_activities = sorted(reference.known_activity_codes())
    parsed: dict[str, pl.Expr] = {}
    problems: dict[str, list[tuple[pl.Expr, str, str | pl.Expr]]] = {}
    for column in present:
        cell = pl.col(column.field)
        # A cell emptied because it was found before (``screen``) is reported as such only.
        empty = cell.is_null() & ~pl.col(f"__found_{column.field}")
        cases: list[tuple[pl.Expr, str, str | pl.Expr]] = []
        if column.kind in ("year", "month"):
            num = pl.col(f"__num_{column.field}")
            whole = num.round(0).cast(pl.Int64, strict=False)
            expected = "the year, e.g. 2024" if column.kind == "year" else "a month 1–12"
            cases += [
                (empty, RULE_EMPTY, expected),
                (cell.is_not_null() & num.is_null(), RULE_NOT_NUMBER, expected),
                (~close_to_whole(num), RULE_NOT_WHOLE, expected),
                (num.is_not_null() & whole.is_null(), RULE_TOO_LARGE, expected),
            ]
            if column.kind == "month":
                cases.append((~whole.is_between(1, 12), RULE_MONTH, expected))
            elif file_year is not None:
                cases.append((whole != file_year, RULE_YEAR, f"{file_year} (the file name's year)"))
            parsed[column.field] = whole
        elif column.kind == "account":
            expected = "a 4-digit account of the chart of accounts, e.g. 4660"
            cases += [
                (empty, RULE_EMPTY, expected),
                (~cell.str.contains(ACCOUNT), RULE_ACCOUNT, expected),
                (~cell.is_in(known_accounts), RULE_ACCOUNT_UNKNOWN, expected),
            ]
            parsed[column.field] = cell
        elif column.kind == "activity":
            expected = "an activity code of the register of activities, e.g. 511"
            cases += [
                (empty, RULE_EMPTY, expected),
                (~cell.is_in(known_activities), RULE_ACTIVITY_UNKNOWN, expected),
            ]
            parsed[column.field] = cell
        elif column.kind == "amount":
            cases, parsed[column.field] = _amount_cases(cell, empty)
        else:  # responsibility: optional free text
            parsed[column.field] = cell
        problems[column.field] = cases

    rules = {name: first_rule(cases) for name, cases in problems.items() if cases}
    stages_after = [
        tuple(value.alias(f"__value_{name}") for name, value in parsed.items()),
        tuple(rule.alias(f"__rule_{name}") for name, rule in rules.items()),
        # A value counts only where its cell breaks no rule.
        tuple(
            pl.when(pl.col(f"__rule_{name}").is_null())
            .then(pl.col(f"__value_{name}"))
            .alias(f"__valid_{name}")
            if name in rules
            else pl.col(f"__value_{name}").alias(f"__valid_{name}")
            for name in parsed
        ),
    ]
    checks = [pl.col(f"__rule_{name}").alias(name) for name in rules]
    if all(name in parsed for name in KEY):
        key = [pl.col(f"__valid_{name}") for name in KEY]
        complete = pl.all_horizontal(
            pl.col(f"__valid_{name}").is_not_null() for name in KEY if name != "responsibility"
        )
        unit = "row" if is_xlsx else "line"
        first = pl.col("__line").first().over(key)
        also = pl.format(f"each line once (the same line is at {unit} {{}})", first)
        duplicate = complete & ~pl.struct(key).is_first_distinct()
        checks.append(first_rule([(duplicate, RULE_DUPLICATE, also)]).alias("__key"))

    def final(name: str) -> pl.Expr:
        valid = pl.col(f"__valid_{name}")
        if name == "amount":
            return (valid.cast(pl.Decimal(38, 0)) * Decimal("0.01")).cast(SCHEMA[name])
        return valid.cast(SCHEMA[name])

    return Plan(
        stages=(tuple(stages), *stages_after),
        rules=tuple(checks),
        values=tuple(final(name).alias(name) for name in parsed),
    )


def _check_table(
    grid: Grid,
    layout: Layout,
    file_year: int | None,
    errors: ErrorCollector,
    notes: list[str],
) -> pl.DataFrame | None:
    """The rules over the budget rows, vectorised: per cell the first rule it breaks, per row
    whether its key came earlier. Returns the rows in raw-table form when the file has no
    error."""
    no_rows = (
        "no budget lines under the table header",
        "one row per year, month, account, responsibility and activity",
    )
    rows = table_rows(grid, layout, COLUMNS, errors, notes, no_rows)
    if rows is None:
        return None
    fields = tuple(c.field for c in COLUMNS if c.field in rows.columns)
    plan = _plan(fields, file_year, grid.is_xlsx)
    rows = check_rows(grid, layout, rows, plan, errors)
    if errors or len(fields) < len(COLUMNS):
        return None
    total = rows.select(pl.col("__valid_amount").abs().cast(pl.Float64).sum()).item() / 100
    if not TOTAL.holds(total):
        errors.add(grid.where, RULE_TOTAL, TOTAL.expected)
        return None
    values = rows.select(*plan.values, pl.col("__line").alias("source_row"))
    return values.cast({name: SCHEMA[name] for name in values.columns})
