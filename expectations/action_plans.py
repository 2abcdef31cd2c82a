"""Suite for ``marts.action_plans``: a plan's latest status is not dated before the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["plan_id"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="action_plans",
        expectations=[
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="latest_status_date", column_B="created_on", or_equal=True
            ),
        ],
    )
