"""The annual contract follow-up and its action plans (small CSVs from KSON's register).

Two source families from the same register:

- ``contract_followup``: ``contract_followup_<YYYY>.csv``, one row per provider and contract
  area of a contract year → raw table ``contract_followup``
  (``docs/contracts/contract_followup.md``);
- ``action_plans``: ``action_plans.csv``, the full status history of the action plans → raw
  table ``action_plans`` (``docs/contracts/action_plans.md``).

The files are a few hundred rows: the CSV is split into fields by Python's ``csv`` module,
which keeps exact line numbers (quoted remarks may hold commas), and every rule of the
contracts is then checked with polars expressions over the whole frame. Each broken cell is
reported as ``line 7, column assessment`` (at most ``MAX_ERRORS_PER_RULE`` per rule, then a
count), never with a value that might be personal data. Both tables keep ``source_line``, the
line of the row in the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from ingest import reference
from ingest.pii import find_personnummer
from ingest.validation import ErrorCollector, ReadResult

FOLLOWUP_SOURCE = "contract_followup"
FOLLOWUP_TABLE = "contract_followup"
PLANS_SOURCE = "action_plans"
PLANS_TABLE = "action_plans"

FOLLOWUP_SCHEMA = pl.Schema(
    {
        "contract_year": pl.Int32,
        "area_code": pl.String,
        "provider_org_nr": pl.String,
        "assessment": pl.String,
        "remark": pl.String,
        "hsl_deep_followup": pl.Boolean,
        "source_line": pl.Int32,
    }
)
PLANS_SCHEMA = pl.Schema(
    {
        "plan_id": pl.String,
        "contract_year": pl.Int32,
        "area_code": pl.String,
        "provider_org_nr": pl.String,
        "created": pl.Date,
        "status": pl.String,
        "status_date": pl.Date,
        "comment": pl.String,
        "source_line": pl.Int32,
    }
)
FOLLOWUP_SCHEMAS = {FOLLOWUP_TABLE: FOLLOWUP_SCHEMA}
PLANS_SCHEMAS = {PLANS_TABLE: PLANS_SCHEMA}

FOLLOWUP_COLUMNS: tuple[str, ...] = tuple(FOLLOWUP_SCHEMA.names()[:-1])
PLANS_COLUMNS: tuple[str, ...] = tuple(PLANS_SCHEMA.names()[:-1])
FOLLOWUP_FILE_NAME = re.compile(r"^contract_followup_(\d{4})\.csv$")
PLANS_FILE_NAME = re.compile(r"^action_plans\.csv$")

GODKAND = "godkänd"
ASSESSMENTS: tuple[str, ...] = (GODKAND, "delvis godkänd", "ej godkänd")
UPPRATTAD = "upprättad"
STATUSES: tuple[str, ...] = (UPPRATTAD, "genomförd", "godkänd", "fortsätter följas")
BOOLEANS = ("true", "false")
PLAN_ID = r"^AP([0-9]{4})-[0-9]{3}$"
YEAR = r"^[0-9]{4}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

RULE_PII = "personal identity number in the file"
_LINE = "source_line"


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def accepts_followup(path: Path) -> bool:
    """Whether ``path`` looks like a contract follow-up (used by ``kson validate``)."""
    return _header_starts(path, b"contract_year,area_code,")


def accepts_plans(path: Path) -> bool:
    """Whether ``path`` looks like an action-plan export (used by ``kson validate``)."""
    return _header_starts(path, b"plan_id,")


def read_followup(path: Path) -> ReadResult:
    """Validate one contract follow-up file; on success the ``contract_followup`` frame."""
    path = Path(path)
    errors = ErrorCollector(path.name, RULE_PII)
    match = FOLLOWUP_FILE_NAME.match(path.name)
    year = int(match.group(1)) if match else None
    if match is None:
        errors.add(
            "file name",
            "file name does not match contract_followup_<YYYY>.csv",
            "contract_followup_<YYYY>.csv, e.g. contract_followup_2023.csv",
        )
    frame = _read_fields(path, FOLLOWUP_COLUMNS, errors)
    if frame is None:
        return ReadResult(errors=errors.finish())
    _check_followup(frame, year, errors)
    if errors:
        return ReadResult(errors=errors.finish())
    table = frame.select(
        pl.col("contract_year").cast(pl.Int32),
        "area_code",
        "provider_org_nr",
        "assessment",
        "remark",
        (pl.col("hsl_deep_followup") == "true").alias("hsl_deep_followup"),
        pl.col(_LINE),
    )
    return ReadResult(tables={FOLLOWUP_TABLE: table.cast(dict(FOLLOWUP_SCHEMA))})


def read_plans(path: Path) -> ReadResult:
    """Validate one action-plan export; on success the ``action_plans`` frame."""
    path = Path(path)
    errors = ErrorCollector(path.name, RULE_PII)
    if not PLANS_FILE_NAME.match(path.name):
        errors.add("file name", "file name is not action_plans.csv", "action_plans.csv")
    frame = _read_fields(path, PLANS_COLUMNS, errors)
    if frame is None:
        return ReadResult(errors=errors.finish())
    _check_plans(frame, errors)
    if errors:
        return ReadResult(errors=errors.finish())
    table = frame.select(
        "plan_id",
        pl.col("contract_year").cast(pl.Int32),
        "area_code",
        "provider_org_nr",
        _date("created"),
        "status",
        _date("status_date"),
        "comment",
        pl.col(_LINE),
    )
    return ReadResult(tables={PLANS_TABLE: table.cast(dict(PLANS_SCHEMA))})


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
def _flag(
    frame: pl.DataFrame,
    broken: pl.Expr,
    column: str,
    rule: str | pl.Expr,
    expected: str | None,
    errors: ErrorCollector,
) -> None:
    """One error per row where ``broken`` is true (null counts as not broken). ``rule`` may be
    an expression giving a per-row text (for example naming an earlier line)."""
    text = rule if isinstance(rule, pl.Expr) else pl.lit(rule)
    hits = (
        frame.select(_LINE, text.alias("rule"), broken.fill_null(False).alias("hit"))
        .filter("hit")
        .sort(_LINE)
    )
    for line, message, _ in hits.iter_rows():
        errors.add(f"line {line}, column {column}", message, expected)


# --------------------------------------------------------------------------------------------
# Reading the fields
# --------------------------------------------------------------------------------------------
def _header_starts(path: Path, prefix: bytes) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(prefix) + 3).removeprefix(b"\xef\xbb\xbf").startswith(prefix)


def _read_fields(path: Path, columns: Sequence[str], errors: ErrorCollector) -> pl.DataFrame | None:
    """The file's rows as text (empty cells as null) with their line numbers, or ``None`` when
    the file cannot be split into the contract's columns (the errors say why)."""
    header = ",".join(columns)
    expected = f"{header} (UTF-8 without BOM, LF line ends)"
    data = path.read_bytes()
    if not data:
        errors.add("line 1", "the file is empty", expected)
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        errors.add("line 1", "the file starts with a byte order mark", expected)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        errors.add(f"line {line}", "the file is not UTF-8", expected)
        return None
    first = text.split("\n", 1)[0]
    crlf = text.find("\r\n")
    if crlf >= 0:
        errors.add(
            f"line {text.count(chr(10), 0, crlf) + 1}", "line ends are CR LF, not LF", expected
        )
        return None
    if first != header:
        got = first.split(",")
        detail = (
            f"{len(got)} columns instead of {len(columns)}"
            if len(got) != len(columns)
            else "column names or order differ"
        )
        errors.add("line 1", f"header is not the {len(columns)} columns ({detail})", header)
        return None

    rows: list[list[str]] = []
    lines: list[int] = []
    unreadable = 0
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader)
    start = reader.line_num + 1
    try:
        for fields in reader:
            if fields:  # blank lines are skipped
                if len(fields) == len(columns):
                    rows.append(fields)
                    lines.append(start)
                else:
                    unreadable += 1
                    errors.add(
                        f"line {start}",
                        f"the line has {len(fields)} fields instead of {len(columns)}",
                        f"{len(columns)} comma-separated fields: {header}",
                    )
            start = reader.line_num + 1
    except csv.Error:
        unreadable += 1
        errors.add(
            f"line {start}",
            "not valid CSV (a quote character inside a value or a quote never closed)",
            'RFC 4180 CSV: a value holding a comma or quote is enclosed in "…"',
        )
    if unreadable:
        return None
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    empty_as_null = [
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in columns
    ]
    return frame.with_columns(empty_as_null).with_columns(pl.Series(_LINE, lines, pl.Int32))


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False).alias(column)


# --------------------------------------------------------------------------------------------
# Rules shared by the two files
# --------------------------------------------------------------------------------------------
def _check_pii(frame: pl.DataFrame, columns: Sequence[str], errors: ErrorCollector) -> None:
    """Cells holding a personal identity number."""
    lines = frame[_LINE]
    for row, column in find_personnummer(frame, list(columns)):
        errors.add(
            f"line {lines[row]}, column {column}",
            RULE_PII,
            "no personal identity numbers (the register holds no personal data)",
        )


def _check_required(frame: pl.DataFrame, columns: Sequence[str], errors: ErrorCollector) -> None:
    for column in columns:
        _flag(frame, pl.col(column).is_null(), column, "empty value", "a value", errors)


def _check_year(frame: pl.DataFrame, errors: ErrorCollector) -> None:
    _flag(
        frame,
        ~pl.col("contract_year").str.contains(YEAR),
        "contract_year",
        "contract_year is not a year",
        "a year as four digits, e.g. 2022",
        errors,
    )


def _check_org_nr(frame: pl.DataFrame, errors: ErrorCollector) -> None:
    """Valid (format, third digit ≥ 2, Luhn by python-stdnum on the distinct values), then
    known in ``providers.csv``."""
    values = frame["provider_org_nr"].drop_nulls().unique().to_list()
    valid = _one_of(v for v in values if reference.is_valid_org_nr(v))
    column = pl.col("provider_org_nr")
    _flag(
        frame,
        ~column.is_in(valid),
        "provider_org_nr",
        "provider_org_nr is not a valid organisation number",
        "NNNNNN-NNNN with a valid check digit and third digit ≥ 2",
        errors,
    )
    _flag(
        frame,
        column.is_in(valid) & ~column.is_in(_one_of(reference.known_org_nrs())),
        "provider_org_nr",
        "provider_org_nr is not in the provider register (providers.csv)",
        "the org nr of a registered provider",
        errors,
    )


def _one_of(values: Iterable[str]) -> pl.Expr:
    """A set of strings for ``is_in`` (typed, so that an empty set works too)."""
    return pl.lit(pl.Series(sorted(values), dtype=pl.String)).implode()


def _check_in(
    frame: pl.DataFrame, column: str, allowed: Sequence[str], rule: str, errors: ErrorCollector
) -> None:
    _flag(frame, ~pl.col(column).is_in(list(allowed)), column, rule, ", ".join(allowed), errors)


def _first_line(keys: Sequence[str]) -> pl.Expr:
    """The line of the first row with the same ``keys``."""
    return pl.col(_LINE).min().over(list(keys))


def _check_constant(
    frame: pl.DataFrame, within: str, columns: Sequence[str], label: str, errors: ErrorCollector
) -> None:
    """``columns`` have one value within each ``within`` group: a row is flagged when it
    differs from the group's first row with a value (empty cells are reported elsewhere)."""
    ordered = frame.filter(pl.col(within).is_not_null()).sort(_LINE)
    for column in columns:
        value = pl.col(column)
        _flag(
            ordered,
            value != value.drop_nulls().first().over(within),
            column,
            pl.format(
                f"{column} differs from line {{}} of the same {label}",
                pl.col(_LINE).filter(value.is_not_null()).first().over(within),
            ),
            f"the same {column} on every row of a {label}",
            errors,
        )


def _areas_in_force(year: int) -> list[str]:
    areas = reference.contract_areas()
    return areas.filter(
        (pl.col("valid_from_year") <= year)
        & (pl.col("valid_to_year").is_null() | (pl.col("valid_to_year") >= year))
    )["area_code"].to_list()


# --------------------------------------------------------------------------------------------
# Contract follow-up
# --------------------------------------------------------------------------------------------
def _check_followup(frame: pl.DataFrame, year: int | None, errors: ErrorCollector) -> None:
    # 2. required values; contract_year one year, the file name's
    _check_required(
        frame,
        ["contract_year", "area_code", "provider_org_nr", "assessment", "hsl_deep_followup"],
        errors,
    )
    _check_year(frame, errors)
    years = frame.filter(pl.col("contract_year").str.contains(YEAR))["contract_year"]
    if year is None and not years.is_empty():
        year = int(years.mode().sort()[0])  # the file name has none: the most common one
    if year is not None:
        _flag(
            frame,
            pl.col("contract_year").str.contains(YEAR) & (pl.col("contract_year") != str(year)),
            "contract_year",
            "contract_year differs from the year of the file (name)",
            f"{year} on every row",
            errors,
        )

    # 3. area known and in force; org nr valid and known
    known_areas = sorted(reference.known_area_codes())
    in_force = _areas_in_force(year) if year is not None else known_areas
    area = pl.col("area_code")
    _flag(
        frame,
        ~area.is_in(known_areas),
        "area_code",
        "area_code is not in the register of contract areas (contract_areas.csv)",
        "an area_code of contract_areas.csv",
        errors,
    )
    _flag(
        frame,
        area.is_in(known_areas) & ~area.is_in(in_force),
        "area_code",
        "the contract area is not in force in the contract year",
        f"an area in force in {year}",
        errors,
    )
    _check_org_nr(frame, errors)

    # 4. (area_code, provider_org_nr) unique
    pair = ["area_code", "provider_org_nr"]
    _flag(
        frame.filter(pl.all_horizontal(pl.col(pair).is_not_null())),
        pl.col(_LINE) != _first_line(pair),
        "provider_org_nr",
        pl.format("the area and provider are already assessed on line {}", _first_line(pair)),
        "one row per area and provider",
        errors,
    )

    # 5. assessment; remark exactly when not approved
    _check_in(frame, "assessment", ASSESSMENTS, "unknown assessment", errors)
    assessment, remark = pl.col("assessment"), pl.col("remark")
    _flag(
        frame,
        assessment.is_in(ASSESSMENTS[1:]) & remark.is_null(),
        "remark",
        "remark missing for an assessment other than godkänd",
        "the main finding, in Swedish",
        errors,
    )
    _flag(
        frame,
        (assessment == GODKAND) & remark.is_not_null(),
        "remark",
        "remark given for an assessment of godkänd",
        "no remark when godkänd",
        errors,
    )

    # 6. hsl_deep_followup true/false, the same on every row of an area
    _check_in(
        frame, "hsl_deep_followup", BOOLEANS, "hsl_deep_followup is not true or false", errors
    )
    _check_constant(
        frame.filter(pl.col("hsl_deep_followup").is_in(BOOLEANS)),
        "area_code",
        ["hsl_deep_followup"],
        "area",
        errors,
    )

    # 7. every area in force is assessed
    if year is not None:
        present = set(frame["area_code"].drop_nulls())
        for code in _areas_in_force(year):
            if code not in present:
                errors.add(
                    "file",
                    f"contract area {code} is in force in {year} but has no row",
                    "a row for every provider of every area in force",
                )

    # 8. no personal identity numbers
    _check_pii(frame, FOLLOWUP_COLUMNS, errors)


# --------------------------------------------------------------------------------------------
# Action plans
# --------------------------------------------------------------------------------------------
def _check_plans(frame: pl.DataFrame, errors: ErrorCollector) -> None:
    # 2. required values, dates, status
    _check_required(frame, [c for c in PLANS_COLUMNS if c != "comment"], errors)
    _check_year(frame, errors)
    for column in ("created", "status_date"):
        _flag(
            frame,
            pl.col(column).is_not_null()
            & (~pl.col(column).str.contains(DATE) | _date(column).is_null()),
            column,
            f"{column} is not a valid date",
            "YYYY-MM-DD, e.g. 2023-08-28",
            errors,
        )
    _check_in(frame, "status", STATUSES, "unknown status", errors)

    # 3. plan_id: pattern, its year; area, org nr, year and created constant within a plan
    plan = pl.col("plan_id")
    _flag(
        frame,
        ~plan.str.contains(PLAN_ID),
        "plan_id",
        "malformed plan_id",
        "AP<contract year>-<3 digits>, e.g. AP2022-010",
        errors,
    )
    _flag(
        frame,
        plan.str.contains(PLAN_ID)
        & pl.col("contract_year").str.contains(YEAR)
        & (plan.str.extract(PLAN_ID, 1) != pl.col("contract_year")),
        "contract_year",
        "contract_year is not the year in plan_id",
        "the year of AP<year>-NNN",
        errors,
    )
    _check_constant(
        frame,
        "plan_id",
        ["contract_year", "area_code", "provider_org_nr", "created"],
        "plan",
        errors,
    )

    # 4. dates in order, one row per plan and date, the first row upprättad on created
    dated = frame.with_columns(_date("created"), _date("status_date")).filter(
        plan.is_not_null() & pl.col("created").is_not_null() & pl.col("status_date").is_not_null()
    )
    _flag(
        dated,
        pl.col("status_date") < pl.col("created"),
        "status_date",
        "status_date is before created",
        "status_date ≥ created",
        errors,
    )
    key = ["plan_id", "status_date"]
    _flag(
        dated,
        pl.col(_LINE) != _first_line(key),
        "status_date",
        pl.format("the plan already has a row with this status_date on line {}", _first_line(key)),
        "one row per plan and status_date",
        errors,
    )
    earliest = (pl.col("status_date") == pl.col("status_date").min().over("plan_id")) & (
        pl.col(_LINE) == _first_line(key)
    )
    _flag(
        dated,
        earliest & pl.col("status").is_in(STATUSES) & (pl.col("status") != UPPRATTAD),
        "status",
        "the plan's earliest row is not upprättad",
        f"the first status of a plan is {UPPRATTAD}",
        errors,
    )
    _flag(
        dated,
        earliest & (pl.col("status_date") != pl.col("created")),
        "status_date",
        "the plan's earliest row is not dated created",
        "the first status_date of a plan equals created",
        errors,
    )

    # 5. area known; org nr valid and known
    _flag(
        frame,
        ~pl.col("area_code").is_in(sorted(reference.known_area_codes())),
        "area_code",
        "area_code is not in the register of contract areas (contract_areas.csv)",
        "an area_code of contract_areas.csv",
        errors,
    )
    _check_org_nr(frame, errors)

    # 6. no personal identity numbers
    _check_pii(frame, PLANS_COLUMNS, errors)
