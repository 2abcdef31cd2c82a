"""Suite on the ledger behind the finance marts (one row per voucher of the current SIE file
of each year): every voucher balances to zero and books only accounts of the chart of
accounts (Kommun-Bas seed). Gates ``marts.finance_budget_outcome``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

MART = "finance_budget_outcome"
KEY_COLUMNS = ["fiscal_year", "voucher_series", "voucher_number"]
QUERY = """
SELECT
    ledger.fiscal_year,
    ledger.voucher_series,
    ledger.voucher_number,
    sum(ledger.amount) AS balance,
    count(*) FILTER (WHERE chart.account IS NULL) AS rows_outside_chart
FROM intermediate.int_sie__transactions_current AS ledger
LEFT JOIN reference.chart_of_accounts AS chart USING (account)
GROUP BY ALL
ORDER BY ALL
"""


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="ledger_vouchers",
        expectations=[
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS),
            gxe.ExpectColumnValuesToBeBetween(column="balance", min_value=0, max_value=0),
            gxe.ExpectColumnValuesToBeBetween(
                column="rows_outside_chart", min_value=0, max_value=0
            ),
        ],
    )
