"""Suite for ``marts.member_contributions``: amounts sane."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["year", "member"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="member_contributions",
        expectations=[
            # Contributions are income: never negative once shown positive.
            gxe.ExpectColumnValuesToBeBetween(column="contribution_booked", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="contribution_required", min_value=0),
        ],
    )
