"""Suite for ``marts.cost_per_user``: users and costs sane."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["year", "service"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="cost_per_user",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(column="cost", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="average_users", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="months_reported", min_value=1, max_value=12),
        ],
    )
