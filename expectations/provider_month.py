"""Suite for ``marts.provider_month``: the figures of the providers' monthly reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["report_month", "provider_org_nr", "area_code", "unit_id"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="provider_month",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="care_plan_share_pct", min_value=0, max_value=100
            ),
            # Performed may exceed granted time, up to the contract's sanity bound of 150 %.
            gxe.ExpectColumnValuesToBeBetween(
                column="performed_share_pct", min_value=0, max_value=150
            ),
            *[
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0)
                for column in (
                    "users",
                    "users_with_care_plan",
                    "granted_hours",
                    "performed_hours",
                    "incidents_total",
                    "unexecuted_decisions",
                )
            ],
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="users", column_B="users_with_care_plan", or_equal=True
            ),
        ],
    )
