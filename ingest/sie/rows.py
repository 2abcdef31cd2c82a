"""Voucher rows (``#TRANS``/``#RTRANS``/``#BTRANS``): nearly all of a ledger's lines, split into
their fields in one vectorised pass, placed in their vouchers, ``#RTRANS`` twins skipped and
the rows of each voucher numbered; and the object lists ``{…}`` they refer to."""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest.sie.schema import ROW_KINDS, SYNTAX
from ingest.sie.state import OUTSIDE, ROW_SCHEMA, LedgerState
from ingest.sie.tokens import ROW, object_problem, split_fields


def exact(amount: pl.Expr) -> pl.Expr:
    """An amount as an exact number, to compare ``100`` with ``100.00`` (null if malformed)."""
    return amount.cast(pl.Decimal(38, 10), strict=False)


BULK_LINES = 1 << 16  # lines split into fields at a time


class RowsMixin(LedgerState):
    """The voucher rows: read in bulk, placed in their vouchers, #RTRANS twins, row numbers;
    the object lists they refer to."""

    def _bulk_rows(self, lines: pl.Series, checksum: bool) -> pl.DataFrame:
        """The voucher rows whose line the row pattern reads whole, split into their fields
        in vectorised passes (polars, Rust regex) over ``BULK_LINES`` lines at a time (the
        intermediate columns of a whole ledger would take several times its size): line,
        label (upper case), kind, account, object_list (index, null when malformed),
        object_rule/object_expected (why), amount, transaction_date, transaction_text,
        quantity, sign, and, for a file with ``checksum``, ``crc`` (what the row adds to the
        #KSUMMA checksum)."""
        return pl.concat(
            [
                self._bulk_part(lines.slice(start, BULK_LINES), start, checksum)
                for start in range(0, lines.len(), BULK_LINES)
            ]
        )

    def _bulk_part(self, lines: pl.Series, start: int, checksum: bool) -> pl.DataFrame:
        """:meth:`_bulk_rows` of the lines from index ``start`` on."""
        heads = (
            pl.DataFrame({"text": lines})
            .with_row_index("line", offset=start + 1)
            .lazy()
            .select("line", pl.col("text").str.strip_chars(" \t\r").str.splitn(" ", 2).alias("p"))
            .unnest("p")
            .rename({"field_0": "label", "field_1": "rest"})
            .filter(pl.col("label").str.to_uppercase().is_in(list(ROW_KINDS)))
        )
        rows = (
            heads.select(
                "line",
                "label",
                pl.col("rest")
                .str.strip_chars_start(" \t")
                .str.extract_groups(ROW.pattern)
                .alias("f"),
            )
            .unnest("f")
            .collect()
        )
        rows = rows.filter(pl.col("3").is_not_null())  # the row pattern matched

        def value(quoted: str, bare: str) -> pl.Expr:
            unescaped = pl.col(quoted).str.replace_all('\\"', '"', literal=True)
            return pl.coalesce(pl.col(bare), unescaped)

        def optional(quoted: str, bare: str, name: str) -> pl.Expr:
            text = value(quoted, bare)
            return pl.when(text != "").then(text).alias(name)

        rows = rows.select(
            pl.col("line").cast(pl.Int32).alias("source_line"),
            pl.col("label").alias("written"),
            pl.col("label").str.to_uppercase().alias("label"),
            value("1", "2").alias("account"),
            pl.col("3").alias("raw"),
            value("4", "5").alias("amount"),
            optional("6", "7", "transaction_date"),
            optional("8", "9", "transaction_text"),
            optional("10", "11", "quantity"),
            optional("12", "13", "sign"),
        )
        objects = pl.DataFrame(
            [(raw, *self._bulk_object_list(raw)) for raw in rows["raw"].unique().to_list()],
            schema={
                "raw": pl.String,
                "object_list": pl.UInt32,
                "object_text": pl.String,
                "object_rule": pl.String,
                "object_expected": pl.String,
            },
            orient="row",
        )
        crc = pl.concat_str(
            "written",
            "account",
            "object_text",
            "amount",
            "transaction_date",
            "transaction_text",
            "quantity",
            "sign",
            ignore_nulls=True,
        ).alias("crc")
        return (
            rows.join(objects, on="raw", how="left")
            .with_columns(
                pl.col("label").replace_strict(ROW_KINDS).alias("row_kind"),
                *[crc] if checksum else [],
            )
            .drop("written", "raw", "object_text")
            .sort("source_line")
        )

    def _bulk_object_list(self, raw: str) -> tuple[int | None, str, str | None, str | None]:
        """An object list given as the text between its braces: its index and #KSUMMA text,
        or, when malformed, the rule it breaks and what is expected."""
        index = self.raw_object_lists.get(raw)
        if index is not None:
            return index, self.object_text[index], None, None
        tokens, problem, lists = split_fields(raw)
        if problem is not None or lists:
            return None, "", "malformed object list", '{1 "100" 6 "P12"}'
        broken = object_problem(tuple(tokens))  # type: ignore[arg-type]
        if broken is not None:
            return None, "", *broken
        index = self.object_lists.get(tuple(tokens))  # type: ignore[arg-type]
        if index is None:
            index = self._add_object_list(tuple(tokens))  # type: ignore[arg-type]
        self.raw_object_lists[raw] = index
        return index, self.object_text[index], None, None

    def _place_rows(self, bulk: pl.DataFrame, numbers: np.ndarray, state: list[int]) -> None:
        """Put the bulk rows in their vouchers (the loop's state at their line), report the
        rows outside a voucher block and the broken ones, join the rows the loop read, then
        apply the #RTRANS rule and number the rows of each voucher: ``self.row_frame``."""
        error = self.error
        lines = bulk["source_line"].to_numpy()
        where = np.asarray(state, dtype=np.int64)[np.searchsorted(numbers, lines)]
        bulk = bulk.with_columns(pl.Series("voucher", where, dtype=pl.Int64))
        outside = bulk.filter(pl.col("voucher") == OUTSIDE)
        for line, label in outside.select("source_line", "label").rows():
            error(line, f"{label} outside a #VER {{ … }} block")
        inside = bulk.filter(pl.col("voucher") >= 0)
        broken = inside.filter(pl.col("object_list").is_null())
        for line, label, rule, expected in broken.select(
            "source_line", "label", "object_rule", "object_expected"
        ).rows():
            error(line, f"{label}: {rule}", expected)
        inside = inside.filter(pl.col("object_list").is_not_null())
        empty = (pl.col("account") == "") | (pl.col("amount") == "")
        for line, label in inside.filter(empty).select("source_line", "label").rows():
            error(line, f"{label}: account or amount empty", SYNTAX[label])
        rows = pl.concat(
            [
                inside.filter(~empty).select(list(ROW_SCHEMA)).cast(ROW_SCHEMA),
                pl.DataFrame(self.rows, schema=ROW_SCHEMA, orient="row"),
            ]
        ).sort("source_line")
        # #RTRANS: a #TRANS right after it in the voucher, same account, objects and amount,
        # is its twin in the file (older readers' copy) and is skipped. A voucher's rows are
        # consecutive in file order, so "the row before in the voucher" is a plain shift.
        voucher = pl.col("voucher")
        same_voucher = voucher == voucher.shift(1)
        twin = (
            same_voucher
            & (pl.col("row_kind") == "TRANS")
            & (pl.col("row_kind").shift(1) == "RTRANS")
            & (pl.col("account") == pl.col("account").shift(1))
            & (pl.col("object_list") == pl.col("object_list").shift(1))
            & (
                (pl.col("amount") == pl.col("amount").shift(1))
                | (exact(pl.col("amount")) == exact(pl.col("amount").shift(1)))
            )
        ).fill_null(False)
        rows = rows.with_columns(twin.alias("twin"))
        missing = rows.filter(
            (pl.col("row_kind") == "RTRANS") & ~pl.col("twin").shift(-1).fill_null(False)
        )
        self.twins_missing = missing["source_line"].to_list()
        self.twins_skipped = int(rows["twin"].sum())
        index = pl.int_range(pl.len(), dtype=pl.Int32)
        first = pl.when(~same_voucher.fill_null(False)).then(index).forward_fill()
        self.row_frame = (
            rows.filter(~pl.col("twin"))
            .drop("twin")
            .with_columns((index - first + 1).alias("row_number"))
        )

    # -- records ------------------------------------------------------------------------------
    def _object_list(self, tokens: tuple[str, ...], line: int, label: str) -> int | None:
        """The index of an object list (parsed once per distinct list), or None on error."""
        problem = object_problem(tokens)
        if problem is not None:
            self.error(line, f"{label}: {problem[0]}", problem[1])
            return None
        return self._add_object_list(tokens)

    def _add_object_list(self, tokens: tuple[str, ...]) -> int:
        index = len(self.object_pairs)
        self.object_pairs.append(
            [(int(d), o) for d, o in zip(tokens[::2], tokens[1::2], strict=True)]
        )
        self.object_text.append("".join(tokens))
        self.object_lists[tokens] = index
        return index
