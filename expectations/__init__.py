"""Great Expectations suites that gate the marts, as code.

``SUITES`` maps a mart (``marts.<name>``) to its suite; the Dagster layer turns each entry into
a blocking asset check. Adding a mart's suite = one module + one entry here. Suite modules
import Great Expectations inside their functions: it takes seconds to import, and loading the
Dagster definitions should not wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from expectations import (
    action_plans,
    contract_followup,
    member_contributions,
    provider_month,
    survey_results,
)

if TYPE_CHECKING:
    import great_expectations as gx


@dataclass(frozen=True)
class MartSuite:
    description: str
    build: Callable[[], gx.ExpectationSuite]
    key_columns: list[str]  # what identifies a row in failure examples


SUITES: dict[str, MartSuite] = {
    module.__name__.rsplit(".", 1)[-1]: MartSuite(
        module.__doc__ or "", module.suite, module.KEY_COLUMNS
    )
    for module in (
        survey_results,
        provider_month,
        contract_followup,
        action_plans,
        member_contributions,
    )
}
