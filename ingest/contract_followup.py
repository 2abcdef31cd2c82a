"""The annual contract follow-up and its action plans (small CSVs from KSON's register).

Two source families from the same register:

- ``contract_followup``: ``contract_followup_<YYYY>.csv``, one row per provider and contract
  area of a contract year → raw table ``contract_followup``
  (``docs/contracts/contract_followup.md``);
- ``action_plans``: ``action_plans.csv``, the full status history of the action plans → raw
  table ``action_plans`` (``docs/contracts/action_plans.md``).

The files are a few hundred rows, read with the register-CSV engine of
:mod:`ingest.register_csv`: the CSV is split into fields by Python's ``csv`` module, which
keeps exact line numbers (quoted remarks may hold commas), and every rule of the contracts is
then checked with polars expressions over the whole frame (every field, the header too, is first
scanned for personal identity numbers). Each broken cell is reported as
``line 7, column assessment`` (at most ``MAX_ERRORS_PER_RULE`` per rule, then a count), never
with a value that might be personal data. Both tables keep ``source_line``, the line of the
row in the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from ingest import reference
from ingest.register_csv import (
    DATE,
    LINE,
    YEAR,
    as_date,
    check_constant,
    check_formula,
    check_in,
    check_org_nr,
    check_required,
    check_unique,
    file_name_year,
    first_line,
    flag,
    header_starts,
    read_fields,
    scan_personnummer,
)
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
PLANS_FILE_NAME = re.compile(r"^action_plans\.csv$")

# The value lists live in the dbt seeds followup_assessments and action_plan_statuses.
ASSESSMENTS: tuple[str, ...] = reference.followup_assessments()
GODKAND = ASSESSMENTS[0]  # approved without remark
STATUSES: tuple[str, ...] = tuple(reference.action_plan_statuses()["status"])
[UPPRATTAD] = reference.action_plan_statuses().filter("is_initial")["status"]
BOOLEANS = ("true", "false")
PLAN_ID = r"^AP([0-9]{4})-[0-9]{3}$"


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def accepts_followup(path: Path) -> bool:
    """Whether ``path`` looks like a contract follow-up (used by ``kson validate``)."""
    return header_starts(path, b"contract_year,area_code,")


def accepts_plans(path: Path) -> bool:
    """Whether ``path`` looks like an action-plan export (used by ``kson validate``)."""
    return header_starts(path, b"plan_id,")


def read_followup(path: Path) -> ReadResult:
    """Validate one contract follow-up file; on success the ``contract_followup`` frame."""
    path = Path(path)
    errors = ErrorCollector(path.name)
    year = file_name_year(path, FOLLOWUP_SOURCE, errors)
    scanned = scan_personnummer(path, FOLLOWUP_COLUMNS, errors)
    frame = read_fields(path, FOLLOWUP_COLUMNS, errors)
    if frame is None:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    _check_followup(frame, year, errors)
    if errors:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    table = frame.select(
        pl.col("contract_year").cast(pl.Int32),
        "area_code",
        "provider_org_nr",
        "assessment",
        "remark",
        (pl.col("hsl_deep_followup") == "true").alias("hsl_deep_followup"),
        pl.col(LINE),
    )
    return ReadResult(tables={FOLLOWUP_TABLE: table.cast(dict(FOLLOWUP_SCHEMA))}, scanned=scanned)


def read_plans(path: Path) -> ReadResult:
    """Validate one action-plan export; on success the ``action_plans`` frame."""
    path = Path(path)
    errors = ErrorCollector(path.name)
    if not PLANS_FILE_NAME.match(path.name):
        errors.add("file name", "file name is not action_plans.csv", "action_plans.csv")
    scanned = scan_personnummer(path, PLANS_COLUMNS, errors)
    frame = read_fields(path, PLANS_COLUMNS, errors)
    if frame is None:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    _check_plans(frame, errors)
    if errors:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    table = frame.select(
        "plan_id",
        pl.col("contract_year").cast(pl.Int32),
        "area_code",
        "provider_org_nr",
        as_date("created"),
        "status",
        as_date("status_date"),
        "comment",
        pl.col(LINE),
    )
    return ReadResult(tables={PLANS_TABLE: table.cast(dict(PLANS_SCHEMA))}, scanned=scanned)


# --------------------------------------------------------------------------------------------
# Rules shared by the two files
# --------------------------------------------------------------------------------------------
def _check_year(frame: pl.DataFrame, errors: ErrorCollector) -> None:
    flag(
        frame,
        ~pl.col("contract_year").str.contains(YEAR),
        "contract_year",
        "contract_year is not a year",
        "a year as four digits, e.g. 2022",
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
    # 2. required values; no text a spreadsheet would run; contract_year one year, the file
    # name's
    check_required(
        frame,
        ["contract_year", "area_code", "provider_org_nr", "assessment", "hsl_deep_followup"],
        errors,
    )
    check_formula(frame, FOLLOWUP_COLUMNS, errors)
    _check_year(frame, errors)
    years = frame.filter(pl.col("contract_year").str.contains(YEAR))["contract_year"]
    if year is None and not years.is_empty():
        year = int(years.mode().sort()[0])  # the file name has none: the most common one
    if year is not None:
        flag(
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
    flag(
        frame,
        ~area.is_in(known_areas),
        "area_code",
        "area_code is not in the register of contract areas (contract_areas.csv)",
        "an area_code of contract_areas.csv",
        errors,
    )
    flag(
        frame,
        area.is_in(known_areas) & ~area.is_in(in_force),
        "area_code",
        "the contract area is not in force in the contract year",
        f"an area in force in {year}",
        errors,
    )
    check_org_nr(frame, errors)

    # 4. (area_code, provider_org_nr) unique
    check_unique(
        frame,
        ["area_code", "provider_org_nr"],
        "provider_org_nr",
        "the area and provider are already assessed on line {}",
        "one row per area and provider",
        errors,
    )

    # 5. assessment; remark exactly when not approved
    check_in(frame, "assessment", ASSESSMENTS, "unknown assessment", errors)
    assessment, remark = pl.col("assessment"), pl.col("remark")
    flag(
        frame,
        assessment.is_in(ASSESSMENTS[1:]) & remark.is_null(),
        "remark",
        "remark missing for an assessment other than godkänd",
        "the main finding, in Swedish",
        errors,
    )
    flag(
        frame,
        (assessment == GODKAND) & remark.is_not_null(),
        "remark",
        "remark given for an assessment of godkänd",
        "no remark when godkänd",
        errors,
    )

    # 6. hsl_deep_followup true/false, the same on every row of an area
    check_in(frame, "hsl_deep_followup", BOOLEANS, "hsl_deep_followup is not true or false", errors)
    check_constant(
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


# --------------------------------------------------------------------------------------------
# Action plans
# --------------------------------------------------------------------------------------------
def _check_plans(frame: pl.DataFrame, errors: ErrorCollector) -> None:
    # 2. required values, no text a spreadsheet would run, dates, status
    check_required(frame, [c for c in PLANS_COLUMNS if c != "comment"], errors)
    check_formula(frame, PLANS_COLUMNS, errors)
    _check_year(frame, errors)
    for column in ("created", "status_date"):
        flag(
            frame,
            pl.col(column).is_not_null()
            & (~pl.col(column).str.contains(DATE) | as_date(column).is_null()),
            column,
            f"{column} is not a valid date",
            "YYYY-MM-DD, e.g. 2023-08-28",
            errors,
        )
    check_in(frame, "status", STATUSES, "unknown status", errors)

    # 3. plan_id: pattern, its year; area, org nr, year and created constant within a plan
    plan = pl.col("plan_id")
    flag(
        frame,
        ~plan.str.contains(PLAN_ID),
        "plan_id",
        "malformed plan_id",
        "AP<contract year>-<3 digits>, e.g. AP2022-010",
        errors,
    )
    flag(
        frame,
        plan.str.contains(PLAN_ID)
        & pl.col("contract_year").str.contains(YEAR)
        & (plan.str.extract(PLAN_ID, 1) != pl.col("contract_year")),
        "contract_year",
        "contract_year is not the year in plan_id",
        "the year of AP<year>-NNN",
        errors,
    )
    check_constant(
        frame,
        "plan_id",
        ["contract_year", "area_code", "provider_org_nr", "created"],
        "plan",
        errors,
    )

    # 4. dates in order, one row per plan and date, the first row upprättad on created
    dated = frame.with_columns(as_date("created"), as_date("status_date")).filter(
        plan.is_not_null() & pl.col("created").is_not_null() & pl.col("status_date").is_not_null()
    )
    flag(
        dated,
        pl.col("status_date") < pl.col("created"),
        "status_date",
        "status_date is before created",
        "status_date ≥ created",
        errors,
    )
    key = ["plan_id", "status_date"]
    check_unique(
        dated,
        key,
        "status_date",
        "the plan already has a row with this status_date on line {}",
        "one row per plan and status_date",
        errors,
    )
    earliest = (pl.col("status_date") == pl.col("status_date").min().over("plan_id")) & (
        pl.col(LINE) == first_line(key)
    )
    flag(
        dated,
        earliest & pl.col("status").is_in(STATUSES) & (pl.col("status") != UPPRATTAD),
        "status",
        "the plan's earliest row is not upprättad",
        f"the first status of a plan is {UPPRATTAD}",
        errors,
    )
    flag(
        dated,
        earliest & (pl.col("status_date") != pl.col("created")),
        "status_date",
        "the plan's earliest row is not dated created",
        "the first status_date of a plan equals created",
        errors,
    )

    # 5. area known; org nr valid and known
    flag(
        frame,
        ~pl.col("area_code").is_in(sorted(reference.known_area_codes())),
        "area_code",
        "area_code is not in the register of contract areas (contract_areas.csv)",
        "an area_code of contract_areas.csv",
        errors,
    )
    check_org_nr(frame, errors)
