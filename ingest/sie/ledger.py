"""The ledger rules: a ledger at all and plausible in total, accounts declared, vouchers that
balance, and opening balance + the year's transactions = closing balance."""

from __future__ import annotations

import polars as pl

from ingest.sie.schema import MONEY, TOTAL_BOUND
from ingest.sie.state import LedgerState
from ingest.validation import lines_place


class LedgerMixin(LedgerState):
    """The rules over the built frames."""

    def _check_content(self, transactions: pl.DataFrame, balances: pl.DataFrame) -> None:
        """A ledger at all (voucher rows or balances; said only when nothing else is wrong,
        since broken records read as nothing), and its amounts together plausible."""
        if transactions.is_empty() and balances.is_empty():
            if self.errors:
                return
            self.error(
                None,
                "the file holds no voucher rows and no balances: not a ledger",
                "#VER blocks with #TRANS rows, or #IB/#UB/#RES/#PSALDO/#PBUDGET records",
            )
            return
        total = sum(
            frame.select(pl.col("amount").abs().sum()).item() or 0
            for frame in (transactions, balances)
        )
        if not TOTAL_BOUND.holds(total):
            self.error(
                None,
                "the amounts of the file add up to more than is plausible",
                TOTAL_BOUND.expected,
            )

    def _check_accounts(self, transactions: pl.DataFrame, balances: pl.DataFrame) -> None:
        if not self.declared:
            return
        declared = pl.Series(sorted(self.declared), dtype=pl.String)
        rows = pl.concat(
            [
                transactions.select(
                    "account", "source_line", label=pl.lit("#") + pl.col("row_kind")
                ),
                balances.select("account", "source_line", label=pl.lit("#") + pl.col("kind")),
            ]
        )
        undeclared = (
            rows.filter(~pl.col("account").is_in(declared.implode()))
            .group_by("account")
            .agg(pl.col("source_line").sort(), pl.col("label").unique().sort())
            .sort(pl.col("source_line").list.first())
        )
        for account, lines, labels in undeclared.iter_rows():
            self.error(
                lines[0],
                f"account {account} is not declared by #KONTO ({len(lines)} "
                f"{'/'.join(labels)} record{'s' if len(lines) > 1 else ''})",
                "every account used in #TRANS and balances declared by #KONTO",
                place=lines_place(lines),
                group="an account not declared by #KONTO",
            )

    def _check_vouchers(self, transactions: pl.DataFrame) -> bool | None:
        """Each voucher's #TRANS and #RTRANS rows sum to zero; whether all do."""
        if transactions.is_empty():
            return True
        sums = (
            transactions.filter(pl.col("row_kind") != "BTRANS")
            .group_by("voucher_line")
            .agg(
                pl.col("amount").sum().alias("total"),
                pl.col("amount").null_count().alias("bad"),
                pl.first("voucher_series", "voucher_number"),
            )
        )
        # a voucher whose block was never closed is reported as such, not as unbalanced
        complete = ~pl.col("voucher_line").is_in(pl.Series(self.unclosed, dtype=pl.Int32).implode())
        unbalanced = sums.filter((pl.col("bad") == 0) & (pl.col("total") != 0) & complete)
        unbalanced = unbalanced.sort("voucher_line")
        for line, total, _, series, number in unbalanced.iter_rows():
            self.error(
                line,
                f"voucher {voucher_name(series, number)} (#VER at line {line}) does not "
                f"balance: its #TRANS/#RTRANS rows sum to {total}",
                "the amounts of a voucher's rows sum to 0.00",
                group="a voucher that does not balance",
            )
        if sums.filter(pl.col("bad") > 0).height:
            return None  # unknown: some amounts could not be read
        return unbalanced.is_empty()

    def _year0_rows(self, counted: pl.DataFrame, years: pl.DataFrame) -> pl.DataFrame:
        year0 = years.filter(pl.col("year_index") == 0)
        if year0.height != 1 or year0["start_date"][0] is None or year0["end_date"][0] is None:
            return counted
        start, end = year0["start_date"][0], year0["end_date"][0]
        return counted.filter(pl.col("voucher_date").is_between(start, end))

    def _check_ib_ub(
        self, transactions: pl.DataFrame, balances: pl.DataFrame, years: pl.DataFrame
    ) -> None:
        """Opening balance + the year's transactions = closing balance (classes 1-2)."""
        year0 = self._year0_rows(transactions.filter(pl.col("row_kind") != "BTRANS"), years)
        sums = year0.group_by("account").agg(pl.col("amount").sum().alias("moved"))

        def first(kind: str) -> pl.DataFrame:
            return (
                balances.filter((pl.col("kind") == kind) & (pl.col("year_index") == 0))
                .group_by("account")
                .agg(
                    pl.first("amount").alias(kind.lower()),
                    pl.first("source_line").alias(f"{kind.lower()}_line"),
                )
            )

        checked = (
            first("IB")
            .join(first("UB"), on="account")
            .filter(pl.col("account").str.slice(0, 1).is_in(["1", "2"]))
            .join(sums, on="account", how="left")
            .with_columns(pl.col("moved").fill_null(0).cast(MONEY))
            .filter(pl.col("ib").is_not_null() & pl.col("ub").is_not_null())
            .filter(pl.col("ib") + pl.col("moved") != pl.col("ub"))
            .sort("ub_line")
        )
        if checked.height and year0["amount"].null_count():
            return  # amounts that could not be read are reported already
        for account, ib, ib_line, ub, ub_line, moved in checked.select(
            "account", "ib", "ib_line", "ub", "ub_line", "moved"
        ).iter_rows():
            self.error(
                ub_line,
                f"account {account}: opening balance {ib} (#IB 0, line {ib_line}) + the year's "
                f"transactions {moved} = {ib + moved}, but the closing balance (#UB 0) is {ub}",
                "#IB + the year's #TRANS/#RTRANS rows = #UB for each balance-sheet account",
                group="opening balance + transactions ≠ closing balance",
            )


def voucher_name(series: str | None, number: str | None) -> str:
    name = " ".join(v for v in (series, number) if v)
    return name or "(no series or number)"
