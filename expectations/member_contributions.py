"""Suite for ``marts.member_contributions``: one row per year and member, amounts sane."""

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
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS),
            gxe.ExpectColumnValuesToBeInSet(
                column="member", value_set=["region_stockholm", "norrtalje_kommun"]
            ),
            # Contributions are income: never negative once shown positive.
            gxe.ExpectColumnValuesToBeBetween(column="contribution_booked", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="contribution_required", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="restoration_status"),
        ],
    )
