"""Run a suite on an in-memory frame with GX's pandas data source; summarise the failures."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)

EXAMPLE_ROWS = 5


@dataclass
class SuiteOutcome:
    suite: str
    evaluated: int
    failures: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


@cache
def _context() -> gx.data_context.AbstractDataContext:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def describe(config: ExpectationConfiguration) -> str:
    """An expectation as failures name it: ``type(kwarg=value, …)``."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def validate_frame(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, key_columns: list[str] | None = None
) -> SuiteOutcome:
    """Validate ``frame`` against ``suite``; each failure names the expectation and up to
    five example rows (their ``key_columns``, or the whole row) that break it."""
    context = _context()
    source = context.data_sources.add_or_update_pandas(f"kson_{suite.name}")
    asset = source.add_dataframe_asset(name=suite.name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    outcome = SuiteOutcome(suite=suite.name, evaluated=len(result.results))
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        text = describe(config)
        details = item.result or {}
        if "unexpected_count" in details:
            text += f": {details['unexpected_count']} of {details.get('element_count')} rows fail"
        elif "observed_value" in details:
            text += f": observed {details['observed_value']!r}"
        indexes = details.get("unexpected_index_list") or []
        if indexes:
            rows = frame.loc[[i for i in indexes[:EXAMPLE_ROWS] if isinstance(i, int)]]
            if key_columns:
                shown = [c for c in key_columns + [config.kwargs.get("column")] if c]
                rows = rows[list(dict.fromkeys(shown))]
            text += "; e.g. " + "; ".join(
                ", ".join(f"{k}={v}" for k, v in row.items()) for row in rows.to_dict("records")
            )
        if item.exception_info and item.exception_info.get("raised_exception"):
            text += f"; error: {item.exception_info.get('exception_message')}"
        outcome.failures.append(text)
    return outcome
