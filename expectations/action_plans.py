"""Suite for ``marts.action_plans``: every plan belongs to a known area and provider."""

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
            gxe.ExpectColumnValuesToBeUnique(column="plan_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="area_name"),
            gxe.ExpectColumnValuesToNotBeNull(column="provider_name"),
            gxe.ExpectColumnValuesToBeInSet(
                column="latest_status",
                value_set=["upprättad", "genomförd", "godkänd", "fortsätter följas"],
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="latest_status_date", column_B="created_on", or_equal=True
            ),
        ],
    )
