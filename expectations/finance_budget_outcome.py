"""Suite for ``marts.finance_budget_outcome``: every closed year has a budget and an outcome
for each of its twelve months (validated on one row per closed year).

A year is closed when its loaded ledger says so, never by the clock: the current SIE file of
the year has outcome in the last month of its financial year (``#RAR 0`` end date) and, where
it gives one, was generated (``#GEN``) after that day. A ledger exported on 2 January with
outcome through November is an open year, not a failure; so is a year without a ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["year"]
QUERY = """
WITH years AS (
    SELECT
        year,
        count(DISTINCT month) FILTER (WHERE budget <> 0) AS months_with_budget,
        count(DISTINCT month) FILTER (WHERE outcome <> 0) AS months_with_outcome,
        max(month) FILTER (WHERE outcome <> 0) AS last_month_with_outcome
    FROM marts.finance_budget_outcome
    GROUP BY year
)
SELECT years.year, years.months_with_budget, years.months_with_outcome
FROM years
INNER JOIN intermediate.int_sie__files_current AS ledger ON ledger.fiscal_year = years.year
INNER JOIN staging.stg_sie__files AS sie ON sie.file_id = ledger.file_id
WHERE years.last_month_with_outcome = date_trunc('month', ledger.end_date)
    AND (sie.generated_on IS NULL OR sie.generated_on > ledger.end_date)
ORDER BY years.year
"""


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="finance_budget_outcome",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="months_with_budget", min_value=12, max_value=12
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="months_with_outcome", min_value=12, max_value=12
            ),
        ],
    )
