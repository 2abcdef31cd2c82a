"""Suite for ``marts.contract_followup``: an area followed up and not approved without remark
has an action plan (the follow-up against ``marts.action_plans``). An area in force but not
followed up is shown with 0 providers and no result: that is information, not a failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["contract_year", "area_code"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return gx.ExpectationSuite(
        name="contract_followup",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="action_plans",
                min_value=1,
                row_condition=(Column("providers_followed_up") > 0)
                & (Column("approved_without_remark") == False),  # noqa: E712
            ),
        ],
    )
