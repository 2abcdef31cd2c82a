"""Great Expectations suites that gate the marts, as code.

``SUITES`` maps a suite's name to the mart it gates and the frame it validates (by default the
whole mart; a module's ``QUERY`` can derive another frame from the build warehouse, e.g. one row
per voucher). The Dagster layer turns each entry into a blocking asset check on its mart.
Adding a suite = one module (``suite()``, ``KEY_COLUMNS``, optionally ``MART`` and ``QUERY``)
+ one entry here. Suite modules
import Great Expectations inside their functions: it takes seconds to import, and loading the
Dagster definitions should not wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from expectations import (
    action_plans,
    contract_followup,
    cost_per_user,
    finance_budget_outcome,
    ledger_vouchers,
    member_contributions,
    provider_month,
    reimbursement_control,
    survey_results,
)

if TYPE_CHECKING:
    import great_expectations as gx


@dataclass(frozen=True)
class MartSuite:
    mart: str  # the mart (marts.<mart>) whose publication the suite gates
    description: str
    build: Callable[[], gx.ExpectationSuite]
    key_columns: list[str]  # what identifies a row in failure examples
    query: str  # DuckDB SQL over the build warehouse: the frame to validate


def _suite(module: ModuleType) -> MartSuite:
    mart = getattr(module, "MART", module.__name__.rsplit(".", 1)[-1])
    return MartSuite(
        mart=mart,
        description=module.__doc__ or "",
        build=module.suite,
        key_columns=module.KEY_COLUMNS,
        query=getattr(module, "QUERY", f"SELECT * FROM marts.{mart}"),
    )


SUITES: dict[str, MartSuite] = {
    module.__name__.rsplit(".", 1)[-1]: _suite(module)
    for module in (
        survey_results,
        provider_month,
        contract_followup,
        action_plans,
        member_contributions,
        finance_budget_outcome,
        ledger_vouchers,
        cost_per_user,
        reimbursement_control,
    )
}
