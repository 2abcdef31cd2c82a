"""Reference registers the readers validate against: the dbt seeds, read from one place."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import polars as pl
from stdnum.se import orgnr

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


@cache
def providers() -> pl.DataFrame:
    """The provider register: org_nr (NNNNNN-NNNN), provider_name, agreement_form."""
    return pl.read_csv(SEEDS_DIR / "providers.csv", schema_overrides={"org_nr": pl.String})


@cache
def contract_areas() -> pl.DataFrame:
    """The register of contract areas, with the years each is in force."""
    return pl.read_csv(
        SEEDS_DIR / "contract_areas.csv",
        schema_overrides={"valid_from_year": pl.Int32, "valid_to_year": pl.Int32},
    )


@cache
def followup_assessments() -> tuple[str, ...]:
    """The assessments of the contract follow-up, mildest (approved without remark) first."""
    seed = pl.read_csv(SEEDS_DIR / "followup_assessments.csv")
    return tuple(seed.sort("severity")["assessment"])


@cache
def action_plan_statuses() -> pl.DataFrame:
    """The statuses of an action plan: status, is_initial, is_open, description."""
    return pl.read_csv(SEEDS_DIR / "action_plan_statuses.csv")


def is_valid_org_nr(value: str) -> bool:
    """``NNNNNN-NNNN`` with a third digit ≥ 2 (a legal person) and a valid Luhn check digit."""
    return (
        re.fullmatch(r"[0-9]{6}-[0-9]{4}", value) is not None
        and value[2] >= "2"
        and orgnr.is_valid(value)
    )


def known_org_nrs() -> frozenset[str]:
    return frozenset(providers()["org_nr"])


def area_in_force(area_code: str, year: int) -> bool:
    rows = contract_areas().filter(
        (pl.col("area_code") == area_code)
        & (pl.col("valid_from_year") <= year)
        & (pl.col("valid_to_year").is_null() | (pl.col("valid_to_year") >= year))
    )
    return not rows.is_empty()


def known_area_codes() -> frozenset[str]:
    return frozenset(contract_areas()["area_code"])


FINANCE_SEEDS_DIR = SEEDS_DIR / "finance"
INDICATOR_SEEDS_DIR = SEEDS_DIR / "indicators"


@cache
def indicator_catalog() -> pl.DataFrame:
    """The board's indicators (seed 004), every column text as in the seed: indicator_id,
    unit (percent, count, per_100000, sek_per_user), source (``manual`` for the manual-input
    file), …"""
    return pl.read_csv(INDICATOR_SEEDS_DIR / "indicator_catalog.csv", infer_schema=False)


@cache
def reporting_units() -> tuple[str, ...]:
    """The units that may report values in the manual-input file."""
    seed = pl.read_csv(INDICATOR_SEEDS_DIR / "reporting_units.csv", infer_schema=False)
    return tuple(seed["reporting_unit"])


@cache
def chart_of_accounts() -> pl.DataFrame:
    """The chart of accounts (Kommun-Bas level), every column text as in the seed: account
    (4 digits), account_name, account_class, account_group, kind, account_type (T/S/I/K)."""
    return pl.read_csv(FINANCE_SEEDS_DIR / "chart_of_accounts.csv", infer_schema=False)


@cache
def activities() -> pl.DataFrame:
    """The register of activities (verksamheter), every column text: activity_code,
    activity_name, service (empty for administration and financing), activity_group."""
    return pl.read_csv(FINANCE_SEEDS_DIR / "activities.csv", infer_schema=False)


def known_accounts() -> frozenset[str]:
    return frozenset(chart_of_accounts()["account"])


def known_activity_codes() -> frozenset[str]:
    return frozenset(activities()["activity_code"])


@cache
def survey_kpis() -> dict[str, str]:
    """The Kolada KPIs the survey mart reads, by kind: ``share`` (a percentage: the questions'
    shares and the response rates) or ``respondents`` (a number of people)."""
    questions = pl.read_csv(SEEDS_DIR / "survey_questions.csv", infer_schema=False)
    services = pl.read_csv(SEEDS_DIR / "survey_services.csv", infer_schema=False)
    kinds = dict.fromkeys(questions["kpi_id"], "share")
    kinds |= dict.fromkeys(services["response_rate_kpi_id"], "share")
    return kinds | dict.fromkeys(services["respondents_kpi_id"], "respondents")
