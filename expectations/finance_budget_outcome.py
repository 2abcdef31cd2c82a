"""Suite for ``marts.finance_budget_outcome``: every closed year has a budget and an outcome
for each of its twelve months (validated on one row per closed year)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["year"]
# A year is closed once it has ended.
QUERY = """
SELECT
    year,
    count(DISTINCT month) FILTER (WHERE budget <> 0) AS months_with_budget,
    count(DISTINCT month) FILTER (WHERE outcome <> 0) AS months_with_outcome
FROM marts.finance_budget_outcome
WHERE year < year(current_date)
GROUP BY year
ORDER BY year
"""


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="finance_budget_outcome",
        expectations=[
            gxe.ExpectColumnValuesToBeUnique(column="year"),
            gxe.ExpectColumnValuesToBeBetween(
                column="months_with_budget", min_value=12, max_value=12
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="months_with_outcome", min_value=12, max_value=12
            ),
        ],
    )
