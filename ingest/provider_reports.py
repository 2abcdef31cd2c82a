"""Care providers' monthly reports (*månadsrapporter*) → the raw table ``provider_reports``.

One landing file is one provider × contract area × month: an ``.xlsx`` filled in from KSON's
template (sheet ``Rapport``) or a CSV exported from Swedish Excel (``;``, decimal comma, UTF-8
with or without BOM, or Windows-1252). Both are read into the same grid of text cells (row =
sheet row or CSV line, column = sheet column or field), then validated with polars expressions
against ``docs/contracts/provider_monthly_report.md``, after the whole file was scanned for
personal identity numbers (``ingest.spreadsheet``) and the cells read for text that a
spreadsheet would run as a formula (``ingest.sheet_layout``). A file is accepted whole or not
at all; every error names the file, the place (sheet, row, column in the provider's terms) and
the rule, never the offending value when it may be personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
from stdnum.se import orgnr as stdnum_orgnr

from ingest import reference
from ingest.sheet_layout import (
    Column,
    Layout,
    Plan,
    check_rows,
    empty_rows,
    find_table,
    open_table,
    table_rows,
)
from ingest.spreadsheet import (
    Family,
    Grid,
    close_to_whole,
    csv_head,
    first_rule,
    header_key,
    number,
)
from ingest.validation import MAX_ERRORS_PER_RULE as MAX_ERRORS_PER_RULE  # the cap on listed errors
from ingest.validation import Bound, ErrorCollector, ReadResult

SOURCE = "provider_reports"
TABLE = "provider_reports"

SCHEMA = pl.Schema(
    {
        "org_nr": pl.String,
        "provider_name": pl.String,
        "area_code": pl.String,
        "period": pl.String,
        "report_version": pl.Int32,
        "unit_id": pl.String,
        "unit_name": pl.String,
        "users": pl.Int32,
        "granted_hours": pl.Decimal(12, 2),
        "performed_hours": pl.Decimal(12, 2),
        "users_with_care_plan": pl.Int32,
        "staff_continuity": pl.Decimal(6, 2),
        "incidents_falls": pl.Int32,
        "incidents_medication": pl.Int32,
        "incidents_other": pl.Int32,
        "unexecuted_decisions": pl.Int32,
        "source_row": pl.Int32,
    }
)
TABLE_SCHEMAS = {TABLE: SCHEMA}

SHEET = "Rapport"
FAMILY = Family(
    sheet=SHEET,
    content="the report",
    filled="the filled-in template",
    no_personal_data="no personal identity numbers: the report holds aggregates only",
)
HOME_CARE_AREA = "HTJ"
PERFORMED_FACTOR_NUM, PERFORMED_FACTOR_DEN = 3, 2  # performed ≤ 1.5 × granted

FILE_NAME = re.compile(
    r"^(\d{10})_([A-Z0-9]{2,8})_(\d{4}-(?:0[1-9]|1[0-2]))(?:_v([2-9]|[1-9]\d+))?\.(?i:xlsx|csv)$"
)
FILE_NAME_FORM = (
    "<org nr, 10 digits>_<area code>_<YYYY-MM>[_v<N>].xlsx or .csv, N ≥ 2, "
    "e.g. 5567289045_HTJ_2023-03.xlsx or 5567289045_HTJ_2023-03_v2.xlsx"
)
ORG_NR = re.compile(r"^(\d{6})-?(\d{4})$")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
UNIT_ID = r"^E\d{5}$"

# Header block: matched label (trimmed, case-folded) → (field, label as the template writes it)
HEADER_FIELDS: dict[str, tuple[str, str]] = {
    "organisationsnummer": ("org_nr", "Organisationsnummer"),
    "vårdgivare": ("provider_name", "Vårdgivare"),
    "avtalsområde": ("area_code", "Avtalsområde"),
    "period": ("period", "Period"),
}


@dataclass(frozen=True)
class _Column(Column):
    """A column of the template; kind: "unit_id", "text", "int", "hours" or "continuity".
    No 9-digit number belongs in any of them."""

    home_care_only: bool = False


# Plausible ranges per unit and month (docs/contracts/provider_monthly_report.md, "Bounds").
USERS = Bound(0, 10_000, "users a unit and month")
HOURS = Bound(0, 100_000, "hours a unit and month")
CONTINUITY = Bound(0, 1_000, "staff a user met in 14 days")
INCIDENTS = Bound(0, 10_000, "a unit and month")
MAX_UNITS = 1_000  # unit rows in one report

COLUMNS: tuple[_Column, ...] = (
    _Column("Enhets-id", "unit_id", "unit_id"),
    _Column("Enhetsnamn", "unit_name", "text"),
    _Column("Antal brukare", "users", "int", bound=USERS),
    _Column("Beviljade timmar", "granted_hours", "hours", home_care_only=True, bound=HOURS),
    _Column("Utförda timmar", "performed_hours", "hours", home_care_only=True, bound=HOURS),
    _Column("Brukare med aktuell genomförandeplan", "users_with_care_plan", "int", bound=USERS),
    _Column(
        "Personalkontinuitet",
        "staff_continuity",
        "continuity",
        home_care_only=True,
        bound=CONTINUITY,
    ),
    _Column("Avvikelser fall", "incidents_falls", "int", bound=INCIDENTS),
    _Column("Avvikelser läkemedel", "incidents_medication", "int", bound=INCIDENTS),
    _Column("Avvikelser övriga", "incidents_other", "int", bound=INCIDENTS),
    _Column("Ej verkställda beslut", "unexecuted_decisions", "int", bound=INCIDENTS),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
UNIT_ID_KEY = "enhets-id"

# Per numeric kind: the expected form.
EXPECTED = {
    "int": "a whole number ≥ 0",
    "hours": "a number ≥ 0 with at most 2 decimals",
    "continuity": "a number ≥ 0 with at most 2 decimals",
}

RULE_EMPTY = "empty cell in a required column"
RULE_NOT_NUMBER = "not a number"
RULE_NEGATIVE = "negative number"
RULE_NOT_WHOLE = "not a whole number"
RULE_DECIMALS = "more than 2 decimals"
RULE_OUT_OF_RANGE = Bound.RULE
RULE_TOO_MANY_UNITS = f"more than {MAX_UNITS} unit rows"
RULE_HTJ_ONLY = "value in a home-care (HTJ) column in a report for another area"
RULE_CARE_PLAN = "users with a current care plan exceed the number of users"
RULE_PERFORMED = "performed hours exceed 1.5 × granted hours"
RULE_UNIT_ID = "malformed unit id"
RULE_UNIT_ID_DUPLICATE = "unit id appears more than once in the file"
RULE_UNIT_NAME = "unit name longer than 100 characters"
RULE_CHECK_DIGIT = "organisation number with a wrong check digit"


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a provider report: any ``.xlsx``, or a ``.csv`` whose first
    line starts with ``Organisationsnummer`` (used by ``kson validate``)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return True
    if suffix != ".csv":
        return False
    text = csv_head(path).lstrip(' "')
    return text.casefold().startswith("organisationsnummer")


def read(path: Path, today: date | None = None) -> ReadResult:
    """Parse and validate one monthly report (``.xlsx`` or ``.csv``).

    ``today`` is the load date (default: today); a period after its month is rejected.
    Returns the unit rows as table ``provider_reports``, or only the errors (all of them, at
    most ``MAX_ERRORS_PER_RULE`` listed per rule) when any rule of the contract is broken.
    """
    today = today or date.today()
    errors = ErrorCollector(path.name)
    named = _check_file_name(path.name, errors)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        errors.add("file name", "not an .xlsx or .csv file", FILE_NAME_FORM)
    grid, layout, scanned = open_table(path, FAMILY, _find_layout, errors)
    if grid is None:
        return ReadResult(errors=errors.finish("file"), scanned=scanned)

    result = ReadResult(scanned=scanned)
    header = _check_header(grid, layout, errors, today)
    if named is not None:
        _check_name_agrees(named, header, errors)
    table = _check_table(grid, layout, header, errors, result.notes)

    if errors or table is None or named is None:
        return ReadResult(errors=errors.finish(grid.where), notes=result.notes, scanned=scanned)
    result.tables[TABLE] = table.select(
        pl.lit(header.org_nr, pl.String).alias("org_nr"),
        pl.lit(header.provider_name, pl.String).alias("provider_name"),
        pl.lit(header.area_code, pl.String).alias("area_code"),
        pl.lit(header.period, pl.String).alias("period"),
        pl.lit(named.version, pl.Int32).alias("report_version"),
        *[pl.col(name) for name in list(SCHEMA)[5:-1]],
        pl.col("__line").alias("source_row"),
    ).cast(dict(SCHEMA))
    return result


# --------------------------------------------------------------------------------------------
# File name
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Named:
    org_digits: str
    area_code: str
    period: str
    version: int


def _check_file_name(name: str, errors: ErrorCollector) -> _Named | None:
    match = FILE_NAME.match(name)
    if match is None:
        errors.add("file name", "file name does not follow the naming rule", FILE_NAME_FORM)
        return None
    org, area, period, version = match.groups()
    return _Named(org, area, period, int(version) if version else 1)


# --------------------------------------------------------------------------------------------
# Layout: header block, table header, unit rows
# --------------------------------------------------------------------------------------------
def _find_layout(grid: Grid, errors: ErrorCollector) -> Layout:
    """Rows: [empty rows] header block, empty row(s), table header, unit rows, empty row."""
    empty_series = empty_rows(grid)
    looks_like_table_header = grid.cells.select(
        pl.any_horizontal(pl.col(grid.columns).str.to_lowercase() == UNIT_ID_KEY)
        .fill_null(False)
        .alias("table_header")
    )["table_header"].to_list()
    empty = empty_series.to_list()
    n = len(empty)
    layout = Layout()
    start = next((i for i in range(n) if not empty[i]), n)
    if start == n:
        errors.add(grid.where, "no content", "the filled-in template")
        return layout
    end = start
    while end < n and not empty[end] and not looks_like_table_header[end]:
        end += 1
    layout.header_rows = range(start, end)
    for row in layout.header_rows:
        known = HEADER_FIELDS.get(header_key(grid.cells["c0"][row]))
        if known is not None:
            layout.labels[row] = known[1]
    table_header = next((i for i in range(end, n) if not empty[i]), None)
    if table_header is None:
        errors.add(
            grid.where,
            "no table header after the header block",
            "a row with the column headers (Enhets-id, Enhetsnamn, …) after an empty row",
        )
        return layout
    find_table(grid, layout, table_header, empty_series, COLUMNS, errors)
    return layout


# --------------------------------------------------------------------------------------------
# Header block
# --------------------------------------------------------------------------------------------
@dataclass
class _Header:
    org_nr: str | None = None  # NNNNNN-NNNN, valid
    org_digits: str | None = None  # 10 digits, well-formed (check digit not yet checked)
    provider_name: str | None = None
    area_code: str | None = None  # known, upper case
    area_known: bool = False
    period: str | None = None  # YYYY-MM, valid month


def _check_header(grid: Grid, layout: Layout, errors: ErrorCollector, today: date) -> _Header:
    header = _Header()
    found: dict[str, tuple[int, str | None]] = {}  # field → (row, value)
    for row in layout.header_rows:
        known = HEADER_FIELDS.get(header_key(grid.cells["c0"][row]))
        if known is None:
            continue  # unknown labels are ignored
        field_name, label = known
        place = grid.row_place(grid.line(row), label)
        if field_name in found:
            errors.add(place, "header field appears twice", "each header field once")
            continue
        found[field_name] = (row, grid.cells["c1"][row])
        if (row, 1) in grid.found:
            continue  # reported already (a personal identity number, …); nothing else to say
        if grid.cells["c1"][row] is None:
            errors.add(place, "header field is empty", "its value in column B")
    for field_name, label in HEADER_FIELDS.values():
        if field_name not in found:
            errors.add(
                f"{grid.where}, header block" if grid.is_xlsx else "header block",
                f"missing header field {label}",
                f"a row with '{label}' in column A and its value in column B"
                if grid.is_xlsx
                else f"a line '{label};<value>'",
            )

    # Organisationsnummer
    if (row_value := _header_value(grid, found, "org_nr")) is not None:
        place, text = row_value
        match = ORG_NR.match(text)
        if match is None:
            errors.add(
                place, "not an organisation number", "NNNNNN-NNNN (10 digits, hyphen optional)"
            )
        else:
            digits = match.group(1) + match.group(2)
            header.org_digits = digits
            if not stdnum_orgnr.is_valid(digits):
                errors.add(
                    place,
                    RULE_CHECK_DIGIT,
                    "NNNNNN-NNNN with a valid check digit",
                )
            elif int(digits[2]) < 2:
                errors.add(
                    place,
                    "not the organisation number of a legal person (3rd digit below 2)",
                    "NNNNNN-NNNN with 3rd digit ≥ 2",
                )
            else:
                org_nr = f"{digits[:6]}-{digits[6:]}"
                if org_nr not in reference.known_org_nrs():
                    errors.add(
                        place,
                        "unknown provider (not in the provider register)",
                        "the org nr of a provider with a contract with KSON",
                    )
                else:
                    header.org_nr = org_nr
    # Vårdgivare: non-empty (checked above), informative only
    if (row_value := _header_value(grid, found, "provider_name")) is not None:
        header.provider_name = row_value[1]
    # Period
    year: int | None = None
    if (row_value := _header_value(grid, found, "period")) is not None:
        place, text = row_value
        match = PERIOD.match(text)
        if match is None:
            errors.add(
                place,
                "not a month in the form YYYY-MM",
                "YYYY-MM as text, month 01–12, e.g. 2023-03 (format the cell as text)",
            )
        else:
            year, month = int(match.group(1)), int(match.group(2))
            header.period = text
            if (year, month) > (today.year, today.month):
                errors.add(place, "period is in the future", f"{today:%Y-%m} or earlier")
    # Avtalsområde
    if (row_value := _header_value(grid, found, "area_code")) is not None:
        place, text = row_value
        code = text.upper()
        if code not in reference.known_area_codes():
            errors.add(
                place,
                "unknown contract area (not in the register of contract areas)",
                "an area code of the register, e.g. HTJ, SABO, KTB, LSSB",
            )
        else:
            header.area_known = True
            header.area_code = code
            if year is not None and not reference.area_in_force(code, year):
                errors.add(
                    place,
                    f"contract area {code} is not in force in {year}",
                    f"an area in force in {year}",
                )
    return header


def _header_value(
    grid: Grid, found: dict[str, tuple[int, str | None]], field_name: str
) -> tuple[str, str] | None:
    """(place, value) of a header field that is present, non-empty and not masked."""
    row, text = found.get(field_name, (None, None))
    if row is None or text is None:
        return None
    label = next(label for name, label in HEADER_FIELDS.values() if name == field_name)
    return grid.row_place(grid.line(row), label), text


def _check_name_agrees(named: _Named, header: _Header, errors: ErrorCollector) -> None:
    """Rule 1: the file name's org nr, area and period equal the header block's."""
    if header.org_digits is not None and header.org_digits != named.org_digits:
        errors.add(
            "file name",
            "the org nr in the file name differs from the header block's Organisationsnummer",
            "the same org nr in the file name and the header block",
        )
    if header.area_code is not None and header.area_code != named.area_code:
        errors.add(
            "file name",
            f"the area code in the file name ({named.area_code}) differs from the header "
            "block's Avtalsområde",
            "the same area code in the file name and the header block",
        )
    if header.period is not None and header.period != named.period:
        errors.add(
            "file name",
            f"the period in the file name ({named.period}) differs from the header block's Period",
            "the same period in the file name and the header block",
        )


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------
@cache
def _plan(fields: tuple[str, ...], home_care: bool | None, is_xlsx: bool) -> Plan:
    """Rules 7–11 for a table with columns ``fields`` (all of them unless some are missing);
    ``home_care`` is None when the area is unknown. Cached: most files share a plan. Stages:
    parsed numbers, their flags, their values."""
    present = [COLUMN_BY_FIELD[name] for name in fields]
    numeric = [c for c in present if c.kind in EXPECTED]

    def num(c: _Column) -> pl.Expr:
        return pl.col(f"__num_{c.field}")

    def scale(c: _Column) -> int:
        return 1 if c.kind == "int" else 100  # decimals are checked and kept as whole cents

    stages = (
        tuple(number(c.field).alias(f"__num_{c.field}") for c in numeric),
        tuple(
            expr
            for c in numeric
            for expr in (
                close_to_whole(num(c) * scale(c)).alias(f"__whole_{c.field}"),
                c.bound.outside(num(c).round(0 if c.kind == "int" else 2)).alias(
                    f"__out_{c.field}"
                ),
            )
        ),
        tuple(
            pl.when((num(c) >= 0) & pl.col(f"__whole_{c.field}") & ~pl.col(f"__out_{c.field}"))
            .then((num(c) * scale(c)).round(0))
            .cast(pl.Int64)
            .alias(f"__value_{c.field}")
            for c in numeric
        ),
    )
    values: dict[str, pl.Expr] = {}
    problems: dict[str, list[tuple[pl.Expr, str, str | pl.Expr]]] = {}
    for column in present:
        cell = pl.col(column.field)
        # A cell emptied because it was found before (``screen``) is reported as such only.
        empty = cell.is_null() & ~pl.col(f"__found_{column.field}")
        cases: list[tuple[pl.Expr, str, str | pl.Expr]] = []
        if column.kind in EXPECTED:
            expected = EXPECTED[column.kind]
            if not column.home_care_only or home_care is True:
                cases.append((empty, RULE_EMPTY, f"{expected} (write 0 for zero)"))
            elif home_care is False:
                only = f"empty: only {HOME_CARE_AREA} reports fill in {column.label}"
                cases.append((cell.is_not_null(), RULE_HTJ_ONLY, only))
            not_whole = RULE_NOT_WHOLE if column.kind == "int" else RULE_DECIMALS
            cases += [
                (cell.is_not_null() & num(column).is_null(), RULE_NOT_NUMBER, expected),
                (num(column) < 0, RULE_NEGATIVE, expected),
                (pl.col(f"__out_{column.field}"), RULE_OUT_OF_RANGE, column.bound.expected),
                (~pl.col(f"__whole_{column.field}"), not_whole, expected),
            ]
            values[column.field] = pl.col(f"__value_{column.field}")
        elif column.kind == "unit_id":
            first = pl.col("__line").first().over("unit_id")
            unit = "row" if is_xlsx else "line"
            also = pl.format(f"each unit once (this unit id is also at {unit} {{}})", first)
            cases += [
                (empty, RULE_EMPTY, "a unit id, e.g. E10009"),
                (~cell.str.contains(UNIT_ID), RULE_UNIT_ID, "E followed by 5 digits, e.g. E10009"),
                (cell.is_not_null() & ~cell.is_first_distinct(), RULE_UNIT_ID_DUPLICATE, also),
            ]
            values[column.field] = cell
        else:
            cases += [
                (empty, RULE_EMPTY, "the unit's name"),
                (cell.str.len_chars() > 100, RULE_UNIT_NAME, "at most 100 characters"),
            ]
            values[column.field] = cell
        problems[column.field] = cases

    # Rules between columns, checked where both cells are valid (null compares as false).
    if "users" in values and "users_with_care_plan" in values:
        problems["users_with_care_plan"].append(
            (
                values["users_with_care_plan"] > values["users"],
                RULE_CARE_PLAN,
                pl.format("≤ {} (Antal brukare)", values["users"]),
            )
        )
    if "granted_hours" in values and "performed_hours" in values:
        # In cents: performed ≤ 1.5 × granted; performed has 2 decimals, so the bound rounds down.
        limit = values["granted_hours"] * PERFORMED_FACTOR_NUM // PERFORMED_FACTOR_DEN
        problems["performed_hours"].append(
            (
                values["performed_hours"] > limit,
                RULE_PERFORMED,
                pl.format("≤ {}.{}", limit // 100, (limit % 100).cast(pl.String).str.zfill(2)),
            )
        )
    return Plan(
        stages=stages,
        rules=tuple(first_rule(cases).alias(name) for name, cases in problems.items()),
        values=tuple(
            (value / 100).round(2).cast(SCHEMA[name]).alias(name)
            if isinstance(SCHEMA[name], pl.Decimal)
            else value.alias(name)
            for name, value in values.items()
        ),
    )


def _check_table(
    grid: Grid,
    layout: Layout,
    header: _Header,
    errors: ErrorCollector,
    notes: list[str],
) -> pl.DataFrame | None:
    """Rules 7–11 over the unit rows, vectorised: per cell, the first rule it breaks.
    Returns the rows in raw-table form (without the header fields) when the file has no
    error."""
    no_rows = ("no unit rows under the table header", "one row per unit")
    units = table_rows(grid, layout, COLUMNS, errors, notes, no_rows)
    if units is None:
        return None
    if units.height > MAX_UNITS:
        errors.add(
            grid.row_place(grid.line(layout.rows.start + MAX_UNITS), "unit rows"),
            RULE_TOO_MANY_UNITS,
            f"at most {MAX_UNITS} units in one report",
        )
    home_care = (header.area_code == HOME_CARE_AREA) if header.area_known else None
    fields = tuple(c.field for c in COLUMNS if c.field in units.columns)
    plan = _plan(fields, home_care, grid.is_xlsx)
    units = check_rows(grid, layout, units, plan, errors)
    if errors:
        return None
    return units.select("__line", *plan.values)
