"""The raw tables built from what the pass over the lines read: every value checked against
its format (vectorised, before it is cast) and its bound, and the file's header row."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl
from stdnum.se import orgnr as stdnum_orgnr

from ingest.pii import MASK
from ingest.sie.ledger import LedgerMixin
from ingest.sie.schema import (
    ACCOUNTS_TABLE,
    AMOUNT,
    AMOUNT_BOUND,
    BALANCES_TABLE,
    DATE,
    DIMENSIONS_TABLE,
    EXPECTED_AMOUNT,
    EXPECTED_DATE,
    EXPECTED_QUANTITY,
    FILES_TABLE,
    MONEY,
    OBJECT_LIST,
    OBJECTS_TABLE,
    PERIOD,
    QUANTITY,
    QUANTITY_BOUND,
    QUANTITY_FORMAT,
    TABLE_SCHEMAS,
    TRANSACTIONS_TABLE,
    YEAR_INDEX,
    YEARS_TABLE,
)
from ingest.sie.summary import ledger_stats
from ingest.validation import Bound


class TablesMixin(LedgerMixin):
    """Frames of the records, their values checked."""

    def build(self, declared_format: str | None) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        """The raw tables, checked value by value and by the ledger rules, and the counts
        :func:`~ingest.sie.summary.summary` reports."""
        objects = pl.Series("objects", self._object_structs(), dtype=OBJECT_LIST)
        years = self._years()
        vouchers = self._vouchers()
        transactions = self._transactions(vouchers, objects)
        balances = self._balances(objects)
        files = self._files(declared_format)
        self._check_content(transactions, balances)
        self._check_accounts(transactions, balances)
        sums = self._check_vouchers(transactions)
        self._check_ib_ub(transactions, balances, years)

        accounts = pl.DataFrame(
            [(a, *values) for a, values in self.accounts.items()],
            schema=TABLE_SCHEMAS[ACCOUNTS_TABLE],
            orient="row",
        )
        dimensions = pl.DataFrame(
            [(d, name, parent) for d, (name, parent) in sorted(self.dimensions.items())],
            schema=TABLE_SCHEMAS[DIMENSIONS_TABLE],
            orient="row",
        )
        objects_table = pl.DataFrame(
            [(d, o, name) for (d, o), name in self.objects.items()],
            schema=TABLE_SCHEMAS[OBJECTS_TABLE],
            orient="row",
        )
        tables = {
            FILES_TABLE: files,
            YEARS_TABLE: years.select(TABLE_SCHEMAS[YEARS_TABLE].names()),
            ACCOUNTS_TABLE: accounts,
            DIMENSIONS_TABLE: dimensions,
            OBJECTS_TABLE: objects_table,
            BALANCES_TABLE: balances.select(TABLE_SCHEMAS[BALANCES_TABLE].names()),
            TRANSACTIONS_TABLE: transactions.select(TABLE_SCHEMAS[TRANSACTIONS_TABLE].names()),
        }
        counted = transactions.filter(pl.col("row_kind") != "BTRANS")
        year0 = self._year0_rows(counted, years)
        outside = vouchers.filter(
            pl.col("voucher_line").is_in(year0["voucher_line"].unique().implode()).not_()
            & pl.col("voucher_line").is_in(counted["voucher_line"].unique().implode())
        )
        if outside.height:
            self.notes.append(
                f"{outside.height} voucher(s) dated outside financial year 0 (first at line "
                f"{outside['voucher_line'].min()}): not in the year-0 sums nor the #IB/#UB check"
            )
        stats = ledger_stats(files, years, vouchers, transactions, year0, sums)
        stats["skipped_rtrans_twins"] = self.twins_skipped
        return tables, stats

    def _object_structs(self) -> list[list[dict[str, Any]]]:
        return [[{"dimension": d, "object": o} for d, o in pairs] for pairs in self.object_pairs]

    def _years(self) -> pl.DataFrame:
        frame = pl.DataFrame(
            {
                "year_index": [y[0] for y in self.years],
                "start_date": [y[1] for y in self.years],
                "end_date": [y[2] for y in self.years],
                "source_line": [y[3] for y in self.years],
            },
            schema={n: pl.String for n in ("year_index", "start_date", "end_date")}
            | {"source_line": pl.Int32},
        )
        frame = self._checked(
            frame, "year_index", YEAR_INDEX, "#RAR: malformed year index (field 1)", "0, -1, -2 …"
        )
        frame = self._dates(frame, "start_date", "#RAR: malformed start date (field 2)")
        frame = self._dates(frame, "end_date", "#RAR: malformed end date (field 3)")
        frame = frame.with_columns(pl.col("year_index").cast(pl.Int32))
        for _, start, end, line in frame.iter_rows():
            if start is not None and end is not None and start > end:
                self.error(line, "#RAR: the year ends before it starts", "start ≤ end")
        duplicated = frame.filter(
            pl.col("year_index").is_duplicated() & pl.col("year_index").is_not_null()
        )
        for index, _, _, line in duplicated.iter_rows():
            self.error(line, f"#RAR {index} appears more than once", "one #RAR per year")
        return frame

    def _vouchers(self) -> pl.DataFrame:
        frame = frame_of(
            self.vouchers,
            {
                "voucher_series": pl.String,
                "voucher_number": pl.String,
                "voucher_date": pl.String,
                "voucher_text": pl.String,
                "voucher_reg_date": pl.String,
                "voucher_line": pl.Int32,
            },
        )
        frame = self._dates(
            frame, "voucher_date", "#VER: malformed voucher date (field 3)", "voucher_line"
        )
        return self._dates(
            frame, "voucher_reg_date", "#VER: malformed registration date (field 5)", "voucher_line"
        )

    def _transactions(self, vouchers: pl.DataFrame, objects: pl.Series) -> pl.DataFrame:
        frame = self.row_frame.with_columns(pl.col("voucher").cast(pl.UInt32))
        frame = self._checked(
            frame,
            "amount",
            AMOUNT,
            "{kind}: malformed amount (field 3)",
            EXPECTED_AMOUNT,
            kind="row_kind",
        )
        frame = self._checked(
            frame,
            "quantity",
            QUANTITY_FORMAT,
            "{kind}: malformed quantity (field 6)",
            EXPECTED_QUANTITY,
            kind="row_kind",
        )
        frame = self._dates(
            frame,
            "transaction_date",
            "{kind}: malformed transaction date (field 4)",
            kind="row_kind",
        )
        frame = frame.with_columns(
            pl.col("amount").cast(MONEY),
            pl.col("quantity").cast(QUANTITY),
            objects.gather(frame["object_list"]).alias("objects"),
        )
        self._bounded(frame, "amount", AMOUNT_BOUND, "{kind}: amount (field 3)", kind="row_kind")
        self._bounded(
            frame, "quantity", QUANTITY_BOUND, "{kind}: quantity (field 6)", kind="row_kind"
        )
        return pl.concat([vouchers.gather(frame["voucher"]), frame], how="horizontal")

    def _balances(self, objects: pl.Series) -> pl.DataFrame:
        frame = frame_of(
            self.balances,
            {
                "kind": pl.String,
                "year_index": pl.String,
                "period": pl.String,
                "account": pl.String,
                "object_list": pl.UInt32,
                "amount": pl.String,
                "quantity": pl.String,
                "source_line": pl.Int32,
            },
        )
        label = "{kind}"
        frame = self._checked(
            frame,
            "year_index",
            YEAR_INDEX,
            f"{label}: malformed year index (field 1)",
            "0, -1, -2 …",
            kind="kind",
        )
        frame = self._checked(
            frame,
            "period",
            PERIOD,
            f"{label}: malformed period (field 2)",
            "YYYYMM, e.g. 202301",
            kind="kind",
        )
        amount_field = (
            pl.when(pl.col("kind").is_in(["PSALDO", "PBUDGET"]))
            .then(5)
            .when(pl.col("kind").is_in(["OIB", "OUB"]))
            .then(4)
            .otherwise(3)
        )
        frame = self._checked(
            frame,
            "amount",
            AMOUNT,
            f"{label}: malformed amount (field {{field}})",
            EXPECTED_AMOUNT,
            kind="kind",
            field_no=amount_field,
        )
        frame = self._checked(
            frame,
            "quantity",
            QUANTITY_FORMAT,
            f"{label}: malformed quantity (field {{field}})",
            EXPECTED_QUANTITY,
            kind="kind",
            field_no=amount_field + 1,
        )
        frame = frame.with_columns(
            pl.col("year_index").cast(pl.Int32),
            pl.col("amount").cast(MONEY),
            pl.col("quantity").cast(QUANTITY),
            objects.gather(frame["object_list"]).alias("objects"),
        )
        rule = f"{label}: {{column}} (field {{field}})"
        self._bounded(frame, "amount", AMOUNT_BOUND, rule, kind="kind", field_no=amount_field)
        self._bounded(
            frame, "quantity", QUANTITY_BOUND, rule, kind="kind", field_no=amount_field + 1
        )
        return frame

    def _files(self, declared_format: str | None) -> pl.DataFrame:
        head = self.head
        notes = self.notes
        sietyp = head.get("sietyp")
        if sietyp is None:
            notes.append("no #SIETYP record: read as type 4")
            sietyp = "4"
        elif sietyp not in ("1", "2", "3", "4"):
            self.error(None, "#SIETYP is not 1, 2, 3 or 4", "#SIETYP 4")
        elif sietyp != "4":
            notes.append(f"#SIETYP {sietyp}: a file without vouchers by the specification")
        suffix = self.path.suffix.upper()
        sie_type = (
            sietyp + ("E" if suffix == ".SE" else "I" if suffix == ".SI" else "")
            if sietyp == "4"
            else sietyp
        )
        generated_on = None
        gen = head.get("gen")
        if gen is not None and gen[0]:
            if is_date(gen[0]):
                generated_on = to_date(gen[0])
            else:
                self.error(gen[1], "#GEN: malformed date (field 1)", EXPECTED_DATE)
        org_nr = None
        found = head.get("org_nr")
        if found is not None and found[0]:
            value, line = found
            digits = value.replace("-", "")
            if len(digits) == 10 and digits.isascii() and digits.isdigit():
                value = f"{digits[:6]}-{digits[6:]}"
            if MASK in value:
                notes.append(
                    f"line {line}: #ORGNR is a personal identity number (a sole trader): masked, "
                    "not stored"
                )
            else:
                org_nr = value
                if not stdnum_orgnr.is_valid(value):
                    notes.append(f"line {line}: #ORGNR is not a valid organisation number")
        ks = self.ksumma
        present = bool(ks)
        valid = None
        if present:
            valid = (
                bool(ks.get("open"))
                and ks.get("declared") is not None
                and ks["declared"] == ks.get("computed")
            )
        return pl.DataFrame(
            [
                (
                    sie_type,
                    head.get("format", declared_format),
                    self.encoding,
                    head.get("program"),
                    head.get("program_version"),
                    generated_on,
                    head.get("company_name"),
                    org_nr,
                    head.get("currency") or "SEK",
                    present,
                    valid,
                )
            ],
            schema=TABLE_SCHEMAS[FILES_TABLE],
            orient="row",
        )

    # -- vectorised value checks ---------------------------------------------------------
    def _checked(
        self,
        frame: pl.DataFrame,
        column: str,
        pattern: str,
        rule: str,
        expected: str,
        line_column: str = "source_line",
        *,
        kind: str | None = None,
        field_no: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Report the non-null values of ``column`` not matching ``pattern`` and null them."""
        bad = pl.col(column).is_not_null() & ~pl.col(column).str.contains(pattern)
        found = frame.filter(bad)
        if found.height:
            self._report(found, rule, expected, line_column, kind, field_no)
            frame = frame.with_columns(
                pl.when(bad).then(None).otherwise(pl.col(column)).alias(column)
            )
        return frame

    def _bounded(
        self,
        frame: pl.DataFrame,
        column: str,
        bound: Bound,
        place: str,
        *,
        kind: str,
        field_no: pl.Expr | None = None,
    ) -> None:
        """Report the values of ``column`` outside ``bound``; ``place`` names the record and
        field (``{kind}``, ``{field}``, ``{column}``)."""
        found = frame.filter(bound.outside(pl.col(column)).fill_null(False))
        if found.height:
            rule = place.replace("{column}", column) + " outside the plausible range"
            self._report(found, rule, bound.expected, "source_line", kind, field_no)

    def _report(
        self,
        found: pl.DataFrame,
        rule: str,
        expected: str,
        line_column: str,
        kind: str | None,
        field_no: pl.Expr | None,
    ) -> None:
        """One error per row of ``found``: ``rule`` with ``{kind}`` (the record) and ``{field}``
        (its field number) filled in per row."""
        extra = [pl.col(kind).alias("_kind") if kind else pl.lit(None).alias("_kind")]
        extra.append(
            field_no.alias("_field") if field_no is not None else pl.lit(None).alias("_field")
        )
        for line, k, f in found.select(line_column, *extra).iter_rows():
            self.error(line, rule.format(kind=f"#{k}", field=f), expected)

    def _dates(
        self,
        frame: pl.DataFrame,
        column: str,
        rule: str,
        line_column: str = "source_line",
        *,
        kind: str | None = None,
    ) -> pl.DataFrame:
        parsed = pl.col(column).str.strptime(pl.Date, "%Y%m%d", strict=False)
        good = pl.col(column).str.contains(DATE) & parsed.is_not_null()
        bad = pl.col(column).is_not_null() & ~good
        found = frame.filter(bad)
        for line, k in found.select(
            line_column, pl.col(kind) if kind else pl.lit(None)
        ).iter_rows():
            text = rule.format(kind=f"#{k}") if kind else rule
            self.error(line, text, EXPECTED_DATE, group="malformed date")
        return frame.with_columns(pl.when(good).then(parsed).otherwise(None).alias(column))


def frame_of(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def as_int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else None


def is_date(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{8}", value)) and to_date(value) is not None


def to_date(value: str) -> date | None:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
