"""Suite for ``marts.reimbursement_control``: amounts sane. Flagged rows are findings, not
failures (a volume without a rate in force is the dbt test on ``status``)."""

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
            gxe.ExpectColumnValuesToBeBetween(column="due", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="transition_support", min_value=0),
        ],
    )
