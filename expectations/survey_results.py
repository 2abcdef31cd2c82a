"""Suite for ``marts.survey_results``: what the board's survey table relies on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import great_expectations as gx

KEY_COLUMNS = ["year", "municipality_id", "service", "question_id"]


def suite() -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="survey_results",
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            # Shares and response rates are percentages; nulls are suppressed results.
            *[
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=100)
                for column in ("share_pct", "share_women_pct", "share_men_pct", "response_rate_pct")
            ],
            gxe.ExpectColumnValuesToBeBetween(column="respondents", min_value=0),
        ],
    )
