"""Suite for ``marts.reimbursement_control``: one row per month, provider and service; every
volume has a rate in force; amounts sane. Flagged rows are findings, not failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["month", "provider_org_nr", "service"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="reimbursement_control",
        expectations=[
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS),
            gxe.ExpectColumnValuesToBeInSet(
                column="service", value_set=["hemtjanst", "hemsjukvard", "hemrehab"]
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="status",
                value_set=["ok", "overpaid", "underpaid", "paid_without_volume", "not_in_ledger"],
            ),
            gxe.ExpectColumnValuesToBeBetween(column="due", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="transition_support", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="provider_name"),
        ],
    )
