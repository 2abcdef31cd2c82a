"""Volumes of basal hemsjukvård and hemrehabilitering from KSON's reimbursement register
(*ersättningsunderlag*) → raw table ``health_care_volumes``.

Basal hemsjukvård (basic home health care, service ``hemsjukvard``, contract area ``BHSV``)
and hemrehabilitering (home rehab, ``hemrehab``, area ``HREH``) are paid per visit until
2024-01-31 and per performed hour from 2024-02-01. The register exports the volumes the
payments are based on as ``health_care_volumes_<YYYY>.csv``, one file per year with one row
per month, provider and service (``docs/contracts/health_care_volumes.md``). A later file of
the same year (a re-export with more months) replaces the earlier one in the marts; both stay
in raw with their ``file_id``.

The file is small (at most 12 months × a handful of providers × 2 services): it is split into
fields with :func:`ingest.register_csv.read_fields` and every rule is a polars expression over
the whole frame; every field, the header too, is first scanned for personal identity numbers.
Errors name the line and column (``line 7, column visits``), never a value.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingest.register_csv import (
    LINE,
    YEAR,
    check_bounded,
    check_formula,
    check_in,
    check_org_nr,
    check_required,
    check_unique,
    check_whole_number,
    file_name_year,
    flag,
    header_starts,
    read_fields,
    scan_personnummer,
)
from ingest.validation import Bound, ErrorCollector, ReadResult

SOURCE = "health_care_volumes"
TABLE = "health_care_volumes"

SCHEMA = pl.Schema(
    {
        "year": pl.Int32,
        "month": pl.Int32,
        "provider_org_nr": pl.String,
        "service": pl.String,
        "visits": pl.Int32,
        "performed_hours": pl.Decimal(12, 2),
        "source_line": pl.Int32,
    }
)
TABLE_SCHEMAS = {TABLE: SCHEMA}

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names()[:-1])
SERVICES: tuple[str, ...] = ("hemsjukvard", "hemrehab")
KEY: tuple[str, ...] = ("year", "month", "provider_org_nr", "service")

# Plausible volumes (docs/contracts/health_care_volumes.md, "Bounds").
VISITS = Bound(0, 100_000, "visits a provider, service and month")
HOURS = Bound(0, 100_000, "hours a provider, service and month")


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a health-care volume export (used by ``kson validate``)."""
    return header_starts(path, b"year,month,provider_org_nr,service,")


def read(path: Path) -> ReadResult:
    """Validate one ``health_care_volumes_<YYYY>.csv``; on success its raw table."""
    path = Path(path)
    errors = ErrorCollector(path.name)
    year = file_name_year(path, SOURCE, errors)
    scanned = scan_personnummer(path, COLUMNS, errors)
    frame = read_fields(path, COLUMNS, errors)
    if frame is None:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    _check(frame, year, errors)
    if errors:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    table = frame.select(
        pl.col("year").cast(pl.Int32),
        pl.col("month").cast(pl.Int32),
        "provider_org_nr",
        "service",
        pl.col("visits").cast(pl.Int32),
        pl.col("performed_hours").cast(pl.Decimal(12, 2)),
        pl.col(LINE),
    )
    return ReadResult(tables={TABLE: table.cast(dict(SCHEMA))}, scanned=scanned)


def _check(frame: pl.DataFrame, year: int | None, errors: ErrorCollector) -> None:
    # at least one row
    if frame.is_empty():
        errors.add(
            "file",
            "the file has no data rows",
            "one row per month, provider and service after the header",
        )
        return

    # every value required; no text a spreadsheet would run
    check_required(frame, COLUMNS, errors)
    check_formula(frame, COLUMNS, errors)

    # year: four digits, the file name's
    value = pl.col("year")
    flag(
        frame,
        ~value.str.contains(YEAR),
        "year",
        "year is not a year",
        "a year as four digits, e.g. 2024",
        errors,
    )
    if year is not None:
        flag(
            frame,
            value.str.contains(YEAR) & (value != str(year)),
            "year",
            "year differs from the year of the file name",
            f"{year} on every row",
            errors,
        )

    # month 1-12; org nr valid and known; service
    check_whole_number(
        frame,
        "month",
        errors,
        minimum=1,
        maximum=12,
        rule="month is not a month number",
        expected="a whole number from 1 to 12",
    )
    check_org_nr(frame, errors)
    check_in(frame, "service", SERVICES, "unknown service", errors)

    # volumes
    check_bounded(frame, "visits", VISITS, errors)
    check_bounded(frame, "performed_hours", HOURS, errors, decimals=2)

    # one row per year, month, provider and service (months compared as numbers: 1 = 01)
    check_unique(
        frame.with_columns(pl.col("month").cast(pl.Int32, strict=False)),
        KEY,
        "service",
        "the month, provider and service are already on line {}",
        "one row per year, month, provider and service",
        errors,
    )
