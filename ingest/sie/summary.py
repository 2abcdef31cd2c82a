"""What ``kson validate --json`` shows for an SIE file, and the counts it is made of."""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from ingest.sie.schema import FILES_TABLE, TRANSACTIONS_TABLE, YEARS_TABLE
from ingest.validation import ReadResult


def summary(result: ReadResult) -> dict[str, Any]:
    """What ``kson validate --json`` shows for an SIE file: type, encoding, financial years,
    voucher and row counts, whether every voucher balances, the year-0 sum per account
    (exact decimals as strings), the errors as (line, rule), and how many personal identity
    numbers were masked on which lines."""
    stats = dict(getattr(result, "stats", {}) or {})
    if not stats and result.tables:  # a plain ReadResult: count from the tables
        stats = _stats_from_tables(result.tables)
    return {
        "sie_type": stats.get("sie_type"),
        "encoding": stats.get("encoding"),
        "financial_years": stats.get("financial_years", []),
        "vouchers": stats.get("vouchers", 0),
        "transaction_rows": stats.get("transaction_rows", 0),
        "btrans_rows": stats.get("btrans_rows", 0),
        "skipped_rtrans_twins": stats.get("skipped_rtrans_twins", 0),
        "all_vouchers_balance": stats.get("all_vouchers_balance"),
        "ksumma": stats.get("ksumma"),
        "account_sums_year0": stats.get("account_sums_year0", {}),
        "valid": result.ok,
        "errors": [{"line": _line_of(e.place), "rule": e.rule} for e in result.errors],
        "notes": list(result.notes),
        "masked": {
            "count": len(result.masked),
            "lines": sorted({line for line in map(_line_of, result.masked) if line}),
        },
    }


def _line_of(place: str) -> int | None:
    match = re.match(r"lines? (\d+)", place)
    return int(match.group(1)) if match else None


def ledger_stats(
    files: pl.DataFrame,
    years: pl.DataFrame,
    vouchers: pl.DataFrame,
    transactions: pl.DataFrame,
    year0: pl.DataFrame,
    balanced: bool | None,
) -> dict[str, Any]:
    """The counts of a read file (also a rejected one, which has no tables): ``year0`` are its
    #TRANS/#RTRANS rows in financial year 0, ``balanced`` whether every voucher balances."""
    counted = transactions.filter(pl.col("row_kind") != "BTRANS")
    return {
        "sie_type": files["sie_type"][0],
        "financial_years": [
            {"year_index": i, "start_date": iso(s), "end_date": iso(e)}
            for i, s, e in years.select("year_index", "start_date", "end_date")
            .sort("year_index", descending=True)
            .iter_rows()
        ],
        "vouchers": vouchers.height,
        "transaction_rows": counted.height,
        "btrans_rows": transactions.height - counted.height,
        "all_vouchers_balance": balanced,
        "ksumma": {"present": files["ksumma_present"][0], "valid": files["ksumma_valid"][0]},
        "account_sums_year0": _sums(year0),
    }


def _sums(rows: pl.DataFrame) -> dict[str, str]:
    """The sum per account (exact decimals as strings)."""
    return {
        account: str(total)
        for account, total in rows.group_by("account")
        .agg(pl.col("amount").sum())
        .sort("account")
        .iter_rows()
    }


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _stats_from_tables(tables: dict[str, Any]) -> dict[str, Any]:
    """The summary's counts from the tables of an accepted file (when no stats were kept)."""
    files = tables.get(FILES_TABLE)
    transactions = tables.get(TRANSACTIONS_TABLE)
    years = tables.get(YEARS_TABLE)
    stats: dict[str, Any] = {}
    if isinstance(files, pl.DataFrame) and files.height:
        stats["sie_type"] = files["sie_type"][0]
        stats["encoding"] = files["encoding"][0]
        stats["ksumma"] = {"present": files["ksumma_present"][0], "valid": files["ksumma_valid"][0]}
    if isinstance(years, pl.DataFrame):
        stats["financial_years"] = [
            {"year_index": i, "start_date": iso(s), "end_date": iso(e)}
            for i, s, e in years.sort("year_index", descending=True).iter_rows()
        ]
    if isinstance(transactions, pl.DataFrame):
        counted = transactions.filter(pl.col("row_kind") != "BTRANS")
        stats["vouchers"] = transactions["voucher_line"].n_unique()
        stats["transaction_rows"] = counted.height
        stats["btrans_rows"] = transactions.height - counted.height
        stats["all_vouchers_balance"] = True
        stats["account_sums_year0"] = _sums(counted)
    return stats
