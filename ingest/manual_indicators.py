"""Manually reported indicator values (*manuell indikatorrapportering*) → the raw table
``manual_indicator_values``.

The board's indicators that no other source gives (SIP, readmissions, e-services, …; those
with ``source = manual`` in ``dbt_project/seeds/indicators/indicator_catalog.csv``) are
reported by KSON's units in one file at a time: an ``.xlsx`` with the table on sheet
``Indikatorer`` (the template ``data/templates/manual_indicators.xlsx``) or a CSV exported
from Swedish Excel (``;``, decimal comma, UTF-8 with or without BOM, or Windows-1252), one row
per indicator × year: Indikator-id, År, Värde, Kommentar, Rapporterande enhet. Both are read
into the grid of ``ingest.spreadsheet`` and validated against
``docs/contracts/manual_indicators.md``: a manual indicator of the catalog, a year in range, a
value in the indicator's unit (a share 0–100, a count whole and not negative), a reporting
unit of ``reporting_units.csv``, each indicator × year once; no personal identity number
anywhere in the file and no text a spreadsheet would run as a formula. A file is accepted
whole or not at all; every error names the place (sheet, row, column; or line, column) and
the rule, never a value that may be personal data.

A later file replaces the earlier value of an indicator × year in the marts (dbt:
``int_manual_indicators__values_current``); every file stays in the raw layer.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

import polars as pl

from ingest import reference
from ingest.sheet_layout import (
    Column,
    Plan,
    check_rows,
    open_table,
    table_at_first_row,
    table_rows,
)
from ingest.spreadsheet import (
    Family,
    accepts_table_file,
    close_to_whole,
    first_rule,
    header_key,
    number,
    two_decimal_number,
)
from ingest.validation import Bound, ErrorCollector, ReadResult

SOURCE = "manual_indicators"
TABLE = "manual_indicator_values"

SCHEMA = pl.Schema(
    {
        "indicator_id": pl.String,
        "year": pl.Int32,
        "value": pl.Decimal(18, 2),
        "comment": pl.String,
        "reporting_unit": pl.String,
        "source_row": pl.Int32,
    }
)
TABLE_SCHEMAS = {TABLE: SCHEMA}

SHEET = "Indikatorer"
FAMILY = Family(
    sheet=SHEET,
    content="the indicator values",
    filled="the indicator table",
    no_personal_data="no personal identity numbers: the file holds KSON-level figures only",
)
FILE_PREFIX = "manual_indicators"

# Kinds: "indicator", "year", "value", "comment" or "unit". No 9-digit number belongs in any
# column (a count is at most COUNT.maximum), so each is checked for a personal identity number
# without its leading zero.
COLUMNS: tuple[Column, ...] = (
    Column("Indikator-id", "indicator_id", "indicator"),
    Column("År", "year", "year"),
    Column("Värde", "reported_value", "value"),  # "value" is polars' unpivot column
    Column("Kommentar", "comment", "comment"),
    Column("Rapporterande enhet", "reporting_unit", "unit"),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
# The table header is the first non-empty row (row 1 by the contract).
FIND_LAYOUT = table_at_first_row(COLUMNS, "the indicator table")
KEY = ("indicator_id", "year")

# Plausible ranges (docs/contracts/manual_indicators.md, "Bounds"), per catalog unit.
YEAR = Bound(2000, 2099, "(a reporting year)")
SHARE = Bound(0, 100, "% (a share)")
COUNT = Bound(0, 10_000_000, "(a count a year)")
RATE = Bound(0, 1_000_000, "per 100 000 inhabitants")
BOUNDS = {"percent": SHARE, "count": COUNT, "per_100000": RATE}
MAX_UNIT = 100  # characters of Rapporterande enhet
MAX_COMMENT = 1000  # characters of Kommentar
# Excel's binary doubles (8.2 may read back as 8.1999999999999993): tolerance per unit of the
# value in hundredths when checking "at most 2 decimals".
HUNDREDTHS_TOLERANCE = 1e-11

RULE_EMPTY = "empty cell in a required column"
RULE_NOT_NUMBER = "not a number"
RULE_NOT_WHOLE = "not a whole number"
RULE_DECIMALS = "more than 2 decimals"
RULE_TOO_LARGE = "number too large"
RULE_INDICATOR_UNKNOWN = "unknown indicator (not in the indicator catalog)"
RULE_NOT_MANUAL = "indicator not reported manually (the warehouse computes its value)"
RULE_YEAR = "year out of range"
RULE_SHARE = "share outside 0–100 %"
RULE_NEGATIVE = "negative value"
RULE_OUT_OF_RANGE = Bound.RULE
RULE_UNIT_UNKNOWN = "unknown reporting unit (not in the register of reporting units)"
RULE_TOO_LONG = "text too long"
RULE_DUPLICATE = "indicator and year appear more than once in the file"


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a manual-input file: an ``.xlsx`` or ``.csv`` named
    ``manual_indicators…``, or a ``.csv`` whose first line has the columns Indikator-id and
    Rapporterande enhet (used by ``kson validate``)."""
    return accepts_table_file(path, FILE_PREFIX, {"indikator-id", "rapporterande enhet"})


def read(path: Path) -> ReadResult:
    """Parse and validate one manual-input file (``.xlsx`` or ``.csv``).

    Returns the values as table ``manual_indicator_values``, or only the errors (at most
    ``MAX_ERRORS_PER_RULE`` listed per rule) when any rule of the contract is broken.
    """
    errors = ErrorCollector(path.name)
    grid, layout, scanned = open_table(path, FAMILY, FIND_LAYOUT, errors)
    if grid is None:
        return ReadResult(errors=errors.finish("file"), scanned=scanned)
    notes: list[str] = []
    no_rows = ("no values under the table header", "one row per indicator and year")
    rows = table_rows(grid, layout, COLUMNS, errors, notes, no_rows)
    if rows is None:
        return ReadResult(errors=errors.finish(grid.where), notes=notes, scanned=scanned)
    fields = tuple(c.field for c in COLUMNS if c.field in rows.columns)
    plan = _plan(fields, grid.is_xlsx)
    rows = check_rows(grid, layout, rows, plan, errors)
    if errors or len(fields) < len(COLUMNS):
        return ReadResult(errors=errors.finish(grid.where), notes=notes, scanned=scanned)
    values = rows.select(*plan.values, pl.col("__line").alias("source_row"))
    table = values.cast({name: SCHEMA[name] for name in values.columns})
    return ReadResult(tables={TABLE: table}, notes=notes, scanned=scanned)


@cache
def _catalog() -> tuple[dict[str, str], frozenset[str]]:
    """Per manual indicator its unit; and every indicator id of the catalog."""
    catalog = reference.indicator_catalog()
    manual = catalog.filter(pl.col("source") == "manual")
    return dict(zip(manual["indicator_id"], manual["unit"], strict=True)), frozenset(
        catalog["indicator_id"]
    )


def _value_cases(empty: pl.Expr) -> tuple[list, pl.Expr]:
    """Rules and value (in hundredths, Int64) of Värde, by the indicator's unit (``__unit``,
    null for an unknown indicator: then only the rules that need no unit)."""
    cell, unit = pl.col("reported_value"), pl.col("__unit")
    plain, exact, approx = pl.col("__plain"), pl.col("__exact"), pl.col("__float")
    number_value = pl.coalesce(exact.cast(pl.Float64), approx)
    expected = "a number in the indicator's unit, e.g. 87 or 8,2 (a share in %)"
    cases = [
        (empty, RULE_EMPTY, "a value (leave out the row of a year without one)"),
        (cell.is_not_null() & ~plain & approx.is_null(), RULE_NOT_NUMBER, expected),
        (plain & exact.is_null(), RULE_TOO_LARGE, expected),
        ((unit == "percent") & SHARE.outside(number_value), RULE_SHARE, "0 to 100 (a share in %)"),
        (
            unit.is_in(["count", "per_100000"]) & (number_value < 0),
            RULE_NEGATIVE,
            "0 or more",
        ),
    ]
    for name, bound in BOUNDS.items():
        cases.append(
            ((unit == name) & bound.outside(number_value), RULE_OUT_OF_RANGE, bound.expected)
        )
    hundredths = approx * 100
    cases += [
        (
            (unit == "count") & ~close_to_whole(number_value),
            RULE_NOT_WHOLE,
            "a whole number (a count)",
        ),
        (
            approx.is_not_null() & ~close_to_whole(hundredths, HUNDREDTHS_TOLERANCE),
            RULE_DECIMALS,
            expected,
        ),
    ]
    value = (
        pl.when(plain)
        .then((exact * 100).cast(pl.Int64, strict=False))
        .otherwise(hundredths.round(0).cast(pl.Int64, strict=False))
    )
    return cases, value


@cache
def _plan(fields: tuple[str, ...], is_xlsx: bool) -> Plan:
    """The rules for a table with columns ``fields`` (all of them unless some are missing).
    Cached per shape. Stages: parsed numbers and the indicator's unit, values, rules, valid
    values; ``__key``: the row's duplicate rule."""
    units, known = _catalog()
    reporting_units = {header_key(unit): unit for unit in reference.reporting_units()}
    stages: list[pl.Expr] = []
    if "indicator_id" in fields:
        indicator = pl.col("indicator_id").str.to_uppercase()
        stages += [
            indicator.alias("__indicator"),
            indicator.replace_strict(units, default=None, return_dtype=pl.String).alias("__unit"),
        ]
    else:
        stages.append(pl.lit(None, pl.String).alias("__unit"))
    if "year" in fields:
        stages.append(number("year").alias("__num_year"))
    if "reported_value" in fields:
        stages += two_decimal_number("reported_value")
    if "reporting_unit" in fields:
        unit_key = pl.col("reporting_unit").map_elements(header_key, return_dtype=pl.String)
        stages.append(unit_key.alias("__unit_key"))

    parsed: dict[str, pl.Expr] = {}
    problems: dict[str, list] = {}
    for name in fields:
        column = COLUMN_BY_FIELD[name]
        cell = pl.col(name)
        # A cell emptied because it was found before (``screen``) is reported as such only.
        empty = cell.is_null() & ~pl.col(f"__found_{name}")
        cases: list = []
        if column.kind == "indicator":
            expected = "the id of a manual indicator of the catalog (docs/indicators.md), e.g. I02"
            ident = pl.col("__indicator")
            cases += [
                (empty, RULE_EMPTY, expected),
                (~ident.is_in(sorted(known)), RULE_INDICATOR_UNKNOWN, expected),
                (~ident.is_in(sorted(units)), RULE_NOT_MANUAL, expected),
            ]
            parsed[name] = ident
        elif column.kind == "year":
            num = pl.col("__num_year")
            whole = num.round(0).cast(pl.Int64, strict=False)
            expected = "the reporting year, e.g. 2023"
            cases += [
                (empty, RULE_EMPTY, expected),
                (cell.is_not_null() & num.is_null(), RULE_NOT_NUMBER, expected),
                (~close_to_whole(num), RULE_NOT_WHOLE, expected),
                (YEAR.outside(num), RULE_YEAR, YEAR.expected),
            ]
            parsed[name] = whole
        elif column.kind == "value":
            cases, parsed[name] = _value_cases(empty)
        elif column.kind == "unit":
            expected = "a unit of the register of reporting units (never a person's name)"
            cases += [
                (empty, RULE_EMPTY, expected),
                (cell.str.len_chars() > MAX_UNIT, RULE_TOO_LONG, f"at most {MAX_UNIT} characters"),
                (
                    ~pl.col("__unit_key").is_in(sorted(reporting_units)),
                    RULE_UNIT_UNKNOWN,
                    expected,
                ),
            ]
            parsed[name] = pl.col("__unit_key").replace_strict(
                reporting_units, default=None, return_dtype=pl.String
            )
        else:  # comment: optional free text
            too_long = cell.str.len_chars() > MAX_COMMENT
            cases.append((too_long, RULE_TOO_LONG, f"at most {MAX_COMMENT} characters"))
            parsed[name] = cell
        problems[name] = cases

    rules = {name: first_rule(cases) for name, cases in problems.items()}
    stages_after = [
        tuple(value.alias(f"__value_{name}") for name, value in parsed.items()),
        tuple(rule.alias(f"__rule_{name}") for name, rule in rules.items()),
        # A value counts only where its cell breaks no rule.
        tuple(
            pl.when(pl.col(f"__rule_{name}").is_null())
            .then(pl.col(f"__value_{name}"))
            .alias(f"__valid_{name}")
            for name in parsed
        ),
    ]
    checks = [pl.col(f"__rule_{name}").alias(name) for name in rules]
    if all(name in parsed for name in KEY):
        key = [pl.col(f"__valid_{name}") for name in KEY]
        complete = pl.all_horizontal(k.is_not_null() for k in key)
        unit = "row" if is_xlsx else "line"
        first = pl.col("__line").first().over(key)
        also = pl.format(f"each indicator and year once (also at {unit} {{}})", first)
        duplicate = complete & ~pl.struct(key).is_first_distinct()
        checks.append(first_rule([(duplicate, RULE_DUPLICATE, also)]).alias("__key"))

    def final(name: str) -> pl.Expr:
        valid = pl.col(f"__valid_{name}")
        if name == "reported_value":
            hundredths = valid.cast(pl.Decimal(38, 0)) * Decimal("0.01")
            return hundredths.cast(SCHEMA["value"]).alias("value")
        return valid.cast(SCHEMA[name]).alias(name)

    return Plan(
        stages=(tuple(stages), *stages_after),
        rules=tuple(checks),
        values=tuple(final(name) for name in parsed),
    )
