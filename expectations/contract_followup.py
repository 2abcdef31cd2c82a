"""Suite for ``marts.contract_followup``: the annual follow-up covers every contract area."""

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
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS),
            # Every area of the register in force in a follow-up year was followed up.
            gxe.ExpectColumnValuesToBeBetween(column="providers_followed_up", min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="area_result"),
            gxe.ExpectColumnValuesToBeInSet(
                column="area_result", value_set=["godkänd", "delvis godkänd", "ej godkänd"]
            ),
            # An area not approved without remark has an action plan.
            gxe.ExpectColumnValuesToBeBetween(
                column="action_plans",
                min_value=1,
                row_condition=Column("approved_without_remark") == False,  # noqa: E712
            ),
        ],
    )
