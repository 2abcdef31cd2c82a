"""Great Expectations suites that gate the marts, as code.

Every rule has one home:

- **Readers** (``ingest/``) enforce the input contracts (``docs/contracts/``), file by file:
  fields, types, value lists, plausible bounds, registers, personal data. They reject the file
  and tell its sender where and why. Staging models add no tests of their own on top.
- **dbt** enforces keys (``unique``, ``unique_combination_of_columns``), relationships (to
  the seeds and between models), accepted values of the columns models compute, and the
  model contracts (types, ``not_null`` constraints) of the marts. A value list the readers
  also need lives in a seed the reader reads (``ingest/reference.py``): the contract areas,
  the providers, ``followup_assessments``, ``action_plan_statuses``; a dbt ``relationships``
  test points to it, so the list is written once. Status and tolerance logic has dbt
  ``unit_tests`` beside the model.
- **These suites** carry business plausibility on what is published: ranges of figures,
  distributions, reconciliations between marts or between a mart and its ledger, and
  completeness of closed periods. No suite repeats a key, a relationship or a value list;
  none reads the clock (a period is closed when the loaded data says so).

Every expectation and every dbt data test has a test that feeds it a violating row and sees
it fail (``tests/test_checks_fail.py``).

``SUITES`` maps a suite's name to the mart it gates and the frame it validates (by default the
whole mart; a module's ``QUERY`` can derive another frame from the build warehouse, e.g. one row
per voucher). The Dagster layer turns each entry into an asset check on its mart
(``orchestration/checks.py``); when it fails, that mart and the marts built from it keep
their published version.
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
