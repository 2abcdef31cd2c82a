"""Suite on the ledger behind the finance marts (one row per voucher of the current SIE file
of each year): every voucher still balances to zero after the current-version selection and
the row-kind filter of ``int_sie__transactions_current`` (a reconciliation of the model with
the file the reader checked). Gates ``marts.finance_budget_outcome``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

MART = "finance_budget_outcome"
KEY_COLUMNS = ["fiscal_year", "voucher_line", "voucher_series", "voucher_number"]
# The #VER line identifies a voucher (docs/contracts/sie.md): series and number may be empty.
QUERY = """
SELECT
    fiscal_year,
    voucher_line,
    any_value(voucher_series) AS voucher_series,
    any_value(voucher_number) AS voucher_number,
    sum(amount) AS balance
FROM intermediate.int_sie__transactions_current
GROUP BY file_id, fiscal_year, voucher_line
ORDER BY fiscal_year, voucher_line
"""


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="ledger_vouchers",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(column="balance", min_value=0, max_value=0),
        ],
    )
