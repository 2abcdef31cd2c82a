"""Deterministic sample data for the care providers' reports to KSON.

Everything written here is made up, except a handful of figures that are calibrated to the
seed documents (see ``sample_data/README.md``). Generated under ``--out DIR``:

- ``provider_reports/<year>/<orgnr-digits>_<area>_<YYYY-MM>[_v<N>].xlsx|.csv`` — the monthly
  provider reports (contract: ``docs/contracts/provider_monthly_report.md``);
- ``visit_logs/visits_<year>.csv`` — one row per home-care visit (``visit_log.md``);
- ``contract_followup/contract_followup_<year>.csv`` — the annual contract follow-up
  (``contract_followup.md``);
- ``action_plans/action_plans.csv`` — action plans with their status history
  (``action_plans.md``).

The reference registers (``dbt_project/seeds/contract_areas.csv``, ``providers.csv``) and the
Excel template KSON gives providers (``data/templates/provider_monthly_report.xlsx``) are
written from the same definitions by :func:`write_registers` and :func:`write_template`.

Usage::

    python -m sample_data.providers --out DIR [--scale 1.0] [--seed 20240101] \
        [--years 2022 2023 2024]
    python -m sample_data.providers --write-registers dbt_project/seeds \
        --write-template data/templates/provider_monthly_report.xlsx

Same inputs give byte-identical files: every random number comes from
``numpy.random.default_rng`` seeded with ``(seed, year, component)``, so a year's files do not
depend on which other years are generated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

DEFAULT_SEED = 20240101
DEFAULT_YEARS = (2022, 2023, 2024)
REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "data" / "templates" / "provider_monthly_report.xlsx"
REGISTER_DIR = REPO_ROOT / "dbt_project" / "seeds"

# --------------------------------------------------------------------------------------------
# Calibration targets (percent, rounded half up). 2022 and 2023 are seed 004 "Indikatorer
# (budget 2024)"; 2024 values are made up. Years not listed use the 2024 value.
# --------------------------------------------------------------------------------------------
TARGET_HOMECARE_CARE_PLAN_PCT = {2022: 84, 2023: 90, 2024: 91}
TARGET_RESIDENTIAL_CARE_PLAN_PCT = {2022: 90, 2023: 90, 2024: 92}
TARGET_PERFORMED_OF_GRANTED_PCT = {2022: 67, 2023: 70, 2024: 74}
# Unexecuted decisions in LSS housing, summed over the LSS housing reports of one month
# (seed 004: 16 on 2023-12-31). Other months are made up.
LSS_UNEXECUTED_FIXED = {(2023, 12): 16}
# Executed decisions in LSS housing at 31 December: users ÷ (users + unexecuted decisions) in
# the December reports (seed 004: 91 % for 2022, 90 % for 2023; 2024 made up). LSS housing is
# not scaled (its ~150 places are Norrtälje's size at every scale), so these hold with the 16.
TARGET_LSS_EXECUTED_PCT = {2022: 91, 2023: 90, 2024: 92}

MIN_UNIT_USERS = 5  # full-year users (home care) / places (residential) per unit, any scale

# --------------------------------------------------------------------------------------------
# The monthly report: header block labels and table columns (Swedish, stable) with the
# snake_case names a reader maps them to. Documented in docs/contracts/.
# --------------------------------------------------------------------------------------------
SHEET_NAME = "Rapport"
HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("Organisationsnummer", "org_nr"),
    ("Vårdgivare", "provider_name"),
    ("Avtalsområde", "area_code"),
    ("Period", "period"),
)
REPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Enhets-id", "unit_id"),
    ("Enhetsnamn", "unit_name"),
    ("Antal brukare", "users"),
    ("Beviljade timmar", "granted_hours"),
    ("Utförda timmar", "performed_hours"),
    ("Brukare med aktuell genomförandeplan", "users_with_care_plan"),
    ("Personalkontinuitet", "staff_continuity"),
    ("Avvikelser fall", "incidents_falls"),
    ("Avvikelser läkemedel", "incidents_medication"),
    ("Avvikelser övriga", "incidents_other"),
    ("Ej verkställda beslut", "unexecuted_decisions"),
)
VISIT_COLUMNS = (
    "visit_id",
    "provider_org_nr",
    "unit_id",
    "user_key",
    "staff_key",
    "planned_start",
    "planned_minutes",
    "actual_start",
    "actual_end",
    "service_type",
)
FOLLOWUP_COLUMNS = (
    "contract_year",
    "area_code",
    "provider_org_nr",
    "assessment",
    "remark",
    "hsl_deep_followup",
)
ACTION_PLAN_COLUMNS = (
    "plan_id",
    "contract_year",
    "area_code",
    "provider_org_nr",
    "created",
    "status",
    "status_date",
    "comment",
)


# --------------------------------------------------------------------------------------------
# Registers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Provider:
    """A care provider (made up; org nr valid but invented)."""

    key: str
    org_nr: str
    name: str
    agreement_form: str

    @property
    def digits(self) -> str:
        """The org nr without its hyphen, as used in file names."""
        return self.org_nr.replace("-", "")


@dataclass(frozen=True)
class ContractArea:
    """A contract area (avtalsområde) and the providers contracted in it."""

    code: str
    name: str
    service_family: str
    agreement_form: str
    valid_from_year: int
    valid_to_year: int | None
    providers: tuple[str, ...]

    def in_force(self, year: int) -> bool:
        """Whether the area is in force in ``year``."""
        return self.valid_from_year <= year and (
            self.valid_to_year is None or year <= self.valid_to_year
        )


_P = Provider
PROVIDERS: tuple[Provider, ...] = (
    _P("TIO", "556796-6857", "Tiohundra AB", "direktavtal"),
    # LOV, kundval hemtjänst (and some basal hemsjukvård / hemrehab)
    _P("LOV01", "556778-2031", "Roslagsomsorgen Hemtjänst AB", "LOV"),
    _P("LOV02", "556728-9045", "Omsorg i Norrtälje AB", "LOV"),
    _P("LOV03", "556781-7142", "Vårdhjälpen Rimbo AB", "LOV"),
    _P("LOV04", "556783-3271", "Skärgårdsomsorg Blidö AB", "LOV"),
    _P("LOV05", "556729-4458", "Hemtjänst Hallstavik Norr AB", "LOV"),
    _P("LOV06", "556755-5981", "Trygg Vardag i Roslagen AB", "LOV"),
    _P("LOV07", "556777-6397", "Älmsta Omsorg och Service AB", "LOV"),
    _P("LOV08", "556942-8187", "Sjöstadens Hemtjänst AB", "LOV"),
    _P("LOV09", "556961-0404", "Friheten Hemtjänst AB", "LOV"),
    _P("LOV10", "556915-9485", "Kustnära Omsorg AB", "LOV"),
    _P("LOV11", "556998-6457", "Björkens Vård och Omsorg AB", "LOV"),
    _P("LOV12", "556924-3297", "Edsbro Hemtjänst AB", "LOV"),
    _P("LOV13", "556900-1968", "Måsens Hemomsorg AB", "LOV"),
    _P("LOV14", "556982-7347", "Lyckebo Hemtjänst AB", "LOV"),
    _P("LOV15", "556906-8611", "Grind & Gård Omsorg AB", "LOV"),
    # LOV, health care
    _P("HL01", "556952-9810", "Vårdcentralen Roslagsporten AB", "LOV"),
    _P("HL02", "556959-8765", "Hälsans Hus Rimbo AB", "LOV"),
    _P("HL03", "559007-4026", "Läkarhuset Hallstavik AB", "LOV"),
    _P("FYS01", "559057-5683", "Fysio Roslagen AB", "LOV"),
    _P("LOG01", "559063-6519", "Språk och Röst Logopedi AB", "LOV"),
    _P("HUD01", "559006-3532", "Hudmottagningen Roslagen AB", "LOV"),
    _P("SPE01", "559021-3848", "Specialistläkarna i Norrtälje AB", "LOV"),
    # LOU
    _P("SAB01", "559035-9351", "Norrgårdens Äldreboende AB", "LOU"),
    _P("SAB02", "559046-4656", "Solbacka Omsorg AB", "LOU"),
    _P("LSS01", "559069-1548", "Havsbrisens Stödboende AB", "LOU"),
    _P("FOT01", "559032-0486", "Fotvårdskliniken Roslagen AB", "LOU"),
    _P("FOT02", "559004-9929", "Fotkliniken Norrtälje AB", "LOU"),
    _P("TRA01", "559006-0348", "Norrtälje Buss och Taxi AB", "LOU"),
    _P("TRA02", "559080-6518", "Sjukresor Roslagen AB", "LOU"),
    _P("TAN01", "559088-4960", "Munhälsa i Roslagen AB", "LOU"),
    _P("TOL01", "559099-5212", "Tolkförmedlingen Mälardalen AB", "LOU"),
    _P("AMB01", "802051-7929", "Ambulansföreningen Roslagen ek. för.", "LOU"),
)
PROVIDER_BY_KEY = {p.key: p for p in PROVIDERS}
_LOV_HOMECARE = tuple(f"LOV{i:02d}" for i in range(1, 16))


def _area(
    code: str,
    name: str,
    family: str,
    form: str,
    providers: Iterable[str],
    valid_to: int | None = None,
) -> ContractArea:
    return ContractArea(code, name, family, form, 2020, valid_to, tuple(providers))


CONTRACT_AREAS: tuple[ContractArea, ...] = (
    # Kundval (LOV) and other LOV areas
    _area("HTJ", "Kundval hemtjänst", "hemtjanst", "LOV", ("TIO", *_LOV_HOMECARE)),
    _area(
        "BHSV",
        "Kundval basal hemsjukvård",
        "hemsjukvard",
        "LOV",
        ("TIO", "LOV01", "LOV02", "LOV06", "LOV10"),
    ),
    _area("HREH", "Kundval hemrehabilitering", "hemrehab", "LOV", ("TIO", "LOV01", "LOV06")),
    _area(
        "HLV",
        "Husläkarverksamhet med läkarinsatser inom basal hemsjukvård",
        "halso_sjukvard",
        "LOV",
        ("TIO", "HL01", "HL02", "HL03"),
    ),
    _area("PRRH", "Primärvårdsrehabilitering", "halso_sjukvard", "LOV", ("TIO", "FYS01")),
    _area("LOGO", "Logopedi", "halso_sjukvard", "LOV", ("LOG01",)),
    _area("HUD", "Specialiserad hudsjukvård", "halso_sjukvard", "LOV", ("HUD01",)),
    _area("SPEC", "Specialistläkarmottagningar", "halso_sjukvard", "LOV", ("SPE01",)),
    # Elderly care
    _area(
        "SABO",
        "Särskilt boende för äldre inklusive läkarinsatser",
        "sarskilt_boende",
        "direktavtal",
        ("TIO",),
    ),
    _area(
        "SABOU",
        "Särskilt boende för äldre, upphandlade platser",
        "sarskilt_boende",
        "LOU",
        ("SAB01", "SAB02"),
    ),
    _area(
        "KTB",
        "Korttidsboende för äldre inklusive läkarinsats",
        "korttidsboende",
        "direktavtal",
        ("TIO",),
    ),
    _area("DVA", "Dagverksamhet för äldre", "dagverksamhet", "direktavtal", ("TIO",)),
    _area("TRYB", "Biståndsbedömt trygghetsboende", "trygghetsboende", "direktavtal", ("TIO",)),
    _area("LARM", "Trygghetslarm och nattpatrull", "trygghetslarm", "direktavtal", ("TIO",)),
    _area("MATD", "Matdistribution", "matdistribution", "direktavtal", ("TIO",)),
    _area("ANHS", "Anhörigstöd", "anhorigstod", "direktavtal", ("TIO",)),
    # LSS
    _area(
        "LSSB",
        "Bostad med särskild service för vuxna enligt LSS",
        "lss_boende",
        "direktavtal",
        ("TIO",),
    ),
    _area(
        "LSSBU",
        "Bostad med särskild service för vuxna enligt LSS, direktupphandlade platser",
        "lss_boende",
        "LOU",
        ("LSS01",),
    ),
    _area(
        "LSSBB",
        "Bostad med särskild service för barn och ungdomar enligt LSS",
        "lss_boende_barn",
        "direktavtal",
        ("TIO",),
    ),
    _area(
        "LSSDV", "Daglig verksamhet enligt LSS", "lss_daglig_verksamhet", "direktavtal", ("TIO",)
    ),
    _area("LSSKV", "Korttidsvistelse enligt LSS", "lss_korttid", "direktavtal", ("TIO",)),
    _area(
        "LSSKT", "Korttidstillsyn för skolungdom enligt LSS", "lss_korttid", "direktavtal", ("TIO",)
    ),
    _area("LSSLA", "Ledsagar- och avlösarservice", "lss_ovrigt", "direktavtal", ("TIO",)),
    _area("LSSPA", "Personlig assistans", "lss_personlig_assistans", "direktavtal", ("TIO",)),
    # Social psychiatry
    _area(
        "SPBO",
        "Bostad med särskild service för personer med psykisk funktionsnedsättning",
        "socialpsykiatri",
        "direktavtal",
        ("TIO",),
    ),
    _area(
        "SPBS",
        "Boendestöd för personer med psykisk funktionsnedsättning",
        "socialpsykiatri",
        "direktavtal",
        ("TIO",),
    ),
    _area(
        "SPSS",
        "Sysselsättning för personer med psykisk funktionsnedsättning",
        "socialpsykiatri",
        "direktavtal",
        ("TIO",),
    ),
    # Health care
    _area("AKUT", "Akutmottagning Norrtälje sjukhus", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area(
        "SOMA",
        "Specialiserad somatisk vård Norrtälje sjukhus",
        "halso_sjukvard",
        "direktavtal",
        ("TIO",),
    ),
    _area("GER", "Geriatrisk vård", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("ASIH", "Avancerad sjukvård i hemmet", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("PALL", "Palliativ slutenvård", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("PSYK", "Vuxenpsykiatri", "psykiatri", "direktavtal", ("TIO",)),
    _area("BUP", "Barn- och ungdomspsykiatri", "psykiatri", "direktavtal", ("TIO",)),
    _area("BVC", "Barnhälsovård", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("MVC", "Mödrahälsovård", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("UNGM", "Ungdomsmottagning", "halso_sjukvard", "direktavtal", ("TIO",)),
    _area("HJLP", "Hjälpmedelsverksamhet", "hjalpmedel", "direktavtal", ("TIO",)),
    _area("FOT", "Fotsjukvård", "fotsjukvard", "LOU", ("FOT01", "FOT02")),
    _area(
        "TAND", "Nödvändig tandvård och uppsökande munhälsobedömning", "tandvard", "LOU", ("TAN01",)
    ),
    _area("AMB", "Ambulanssjukvård", "halso_sjukvard", "LOU", ("AMB01",)),
    _area("TOLK", "Tolktjänster", "tolk", "LOU", ("TOL01",)),
    # Transport
    _area("TURB", "Turbundna resor", "transport", "LOU", ("TRA01",), valid_to=2024),
    _area("SJRE", "Sjukresor", "transport", "LOU", ("TRA02",)),
)
AREA_BY_CODE = {a.code: a for a in CONTRACT_AREAS}


@dataclass(frozen=True)
class Unit:
    """A unit (enhet) that reports monthly: one row in a provider's monthly report."""

    unit_id: str
    unit_name: str
    provider: str
    area: str
    base_size: int  # home care: users a month; residential: places (at scale 1.0)


def _units() -> tuple[Unit, ...]:
    homecare: dict[str, list[tuple[str, int]]] = {
        "TIO": [
            ("Norrtälje centrum", 80),
            ("Norrtälje norra", 60),
            ("Rimbo", 70),
            ("Hallstavik", 50),
            ("Älmsta-Väddö", 45),
            ("Skärgården", 25),
        ],
        "LOV01": [("Norrtälje", 45), ("Rimbo", 30)],
        "LOV02": [("Norrtälje södra", 50), ("Frötuna", 20)],
        "LOV03": [("Rimbo", 40)],
        "LOV04": [("Blidö", 12), ("Furusund", 10)],
        "LOV05": [("Hallstavik", 35), ("Herräng", 15)],
        "LOV06": [("Norrtälje", 45), ("Bergshamra", 20), ("Söderby-Karl", 15)],
        "LOV07": [("Älmsta", 30), ("Grisslehamn", 15)],
        "LOV08": [("Norrtälje hamn", 35)],
        "LOV09": [("Norrtälje", 30)],
        "LOV10": [("Grisslehamn", 15), ("Singö", 8)],
        "LOV11": [("Norrtälje västra", 40), ("Lohärad", 20)],
        "LOV12": [("Edsbro", 25), ("Ununge", 10)],
        "LOV13": [("Norrtälje", 28)],
        "LOV14": [("Rimbo", 25), ("Skederid", 12)],
        "LOV15": [("Riala", 18), ("Roslags-Kulla", 12)],
    }
    units: list[Unit] = []
    n = 0
    for provider, spec in homecare.items():
        for place, size in spec:
            n += 1
            units.append(Unit(f"E1{n:04d}", f"Hemtjänstgrupp {place}", provider, "HTJ", size))
    residential: list[tuple[str, str, str, list[tuple[str, int]]]] = [
        (
            "E2",
            "TIO",
            "SABO",
            [
                ("Solgårdens äldreboende", 90),
                ("Lindgårdens äldreboende", 70),
                ("Havsutsiktens äldreboende", 60),
                ("Rimbogårdens äldreboende", 60),
                ("Hallstagårdens äldreboende", 50),
                ("Älmstagårdens äldreboende", 55),
                ("Björkbackens äldreboende", 55),
                ("Ekbackens äldreboende", 60),
            ],
        ),
        ("E21", "SAB01", "SABOU", [("Norrgården", 60), ("Norrgården demensenhet", 40)]),
        ("E22", "SAB02", "SABOU", [("Solbacka", 55), ("Solbacka strand", 45)]),
        ("E23", "TIO", "KTB", [("Korttidsboendet Norrtälje", 40)]),
        (
            "E3",
            "TIO",
            "LSSB",
            [
                (f"Gruppbostad {s}", 6)
                for s in (
                    "Ängsvägen",
                    "Lärkstigen",
                    "Tallbacken",
                    "Vallmovägen",
                    "Sjöbrisen",
                    "Kvarnbacken",
                    "Åkervägen",
                    "Granudden",
                    "Hagtornet",
                    "Björkhagen",
                    "Källbacken",
                    "Svanvägen",
                )
            ]
            + [
                ("Servicebostad Centrum", 20),
                ("Servicebostad Rimbo", 18),
                ("Servicebostad Hallstavik", 14),
            ],
        ),
        (
            "E31",
            "LSS01",
            "LSSBU",
            [("Havsbrisen gruppbostad", 6), ("Havsbrisen servicebostad", 20)],
        ),
    ]
    for prefix, provider, area, spec in residential:
        for i, (name, size) in enumerate(spec, start=1):
            units.append(Unit(f"{prefix}{i:0{6 - len(prefix)}d}", name, provider, area, size))
    return tuple(units)


UNITS = _units()
MONTHLY_REPORT_AREAS = ("HTJ", "SABO", "SABOU", "KTB", "LSSB", "LSSBU")
RESIDENTIAL_CARE_PLAN_AREAS = ("SABO", "SABOU")  # service_family sarskilt_boende
LSS_HOUSING_AREAS = ("LSSB", "LSSBU")
# How a provider delivers its reports: xlsx (most), or CSV exported from Swedish Excel.
REPORT_FORMAT = {
    "LOV05": "csv-cp1252",
    "LOV09": "csv-utf8",
    "LOV13": "csv-cp1252",
    "SAB02": "csv-utf8",
}
# Providers whose reported performed hours are deliberately 5–10 % above their visit logs.
OFF_PROVIDERS = ("LOV08", "LOV12")
# One corrected resubmission: (provider, area, month); year = 2023 if generated, else the
# middle one of the generated years.
RESUBMISSION = ("LOV02", "HTJ", 3)

# Home-care services (insatser): name, share of visits, planned-minute options.
SERVICE_TYPES: tuple[tuple[str, float, tuple[int, ...]], ...] = (
    ("personlig omvårdnad", 0.40, (20, 30, 45)),
    ("tillsyn", 0.16, (10, 15)),
    ("måltid", 0.16, (20, 30)),
    ("service", 0.12, (30, 45, 60)),
    ("dusch", 0.06, (30, 45)),
    ("social samvaro", 0.06, (30, 45, 60)),
    ("ledsagning", 0.04, (45, 60, 90)),
)
# Relative weight of each half-hour of the day for a planned visit start, by hour.
_HOUR_WEIGHT = {
    6: 2,
    7: 8,
    8: 9,
    9: 7,
    10: 4,
    11: 5,
    12: 5,
    13: 3,
    14: 2,
    15: 3,
    16: 3,
    17: 5,
    18: 4,
    19: 4,
    20: 4,
    21: 3,
}

# --------------------------------------------------------------------------------------------
# Annual contract follow-up. 2022 is seed 002; 2023 and 2024 are made up.
# (area, provider) -> (assessment, remark); every other pair in force is "godkänd".
# --------------------------------------------------------------------------------------------
GODKAND, DELVIS, EJ = "godkänd", "delvis godkänd", "ej godkänd"
FOLLOWUP_SPEC: dict[int, dict[tuple[str, str], tuple[str, str]]] = {
    2022: {
        ("SABO", "TIO"): (DELVIS, "Brister i läkemedelshantering och delegeringar"),
        ("KTB", "TIO"): (DELVIS, "Brister i HSL-dokumentation och rutiner vid utskrivning"),
        ("SPBO", "TIO"): (DELVIS, "Brister i bemötande, engagemang och handledning"),
        ("HTJ", "LOV03"): (DELVIS, "Inaktuella genomförandeplaner för flera brukare"),
        ("HTJ", "LOV07"): (DELVIS, "Brister i avvikelsehantering"),
        ("HTJ", "LOV11"): (DELVIS, "Låg personalkontinuitet och inaktuella genomförandeplaner"),
        ("HTJ", "LOV14"): (DELVIS, "Brister i dokumentation av utförd tid"),
        ("BHSV", "LOV02"): (DELVIS, "Brister i delegeringar och läkemedelshantering"),
        ("BHSV", "LOV10"): (DELVIS, "Brister i lokala rutiner för hälso- och sjukvård"),
        ("HREH", "LOV06"): (DELVIS, "Brister i rehabiliteringsdokumentation"),
        ("HLV", "HL01"): (DELVIS, "Brister i läkarinsatser inom basal hemsjukvård"),
        ("HLV", "HL03"): (DELVIS, "Brister i tillgänglighet för läkarinsatser i hemmet"),
        ("FOT", "FOT01"): (EJ, "Avtalsvillkor om tillgänglighet och kapacitet uppfylls inte"),
        ("FOT", "FOT02"): (EJ, "Avtalsvillkor om tillgänglighet och hygienrutiner uppfylls inte"),
        ("TURB", "TRA01"): (DELVIS, "Brister i punktlighet och information till resenärer"),
        ("LSSB", "TIO"): (DELVIS, "Brister i arbetet med skydds- och begränsningsåtgärder"),
        ("LSSDV", "TIO"): (DELVIS, "Brister i brukarinflytande och genomförandeplaner"),
    },
    2023: {
        ("TURB", "TRA01"): (DELVIS, "Punktligheten är fortsatt bristande"),
        ("HTJ", "LOV07"): (DELVIS, "Brister i avvikelsehantering kvarstår"),
        ("BHSV", "LOV10"): (DELVIS, "Brister i läkemedelshantering"),
        ("SABOU", "SAB02"): (DELVIS, "Brister i bemanning nattetid"),
        ("LSSB", "TIO"): (DELVIS, "Brister i genomförandeplaner"),
        ("HLV", "HL03"): (DELVIS, "Tillgängligheten för läkarinsatser i hemmet är bristande"),
    },
    2024: {
        ("HTJ", "LOV11"): (DELVIS, "Brister i dokumentation av utförd tid"),
        ("BHSV", "LOV02"): (DELVIS, "Brister i registrering av utförd tid"),
        ("HREH", "LOV06"): (DELVIS, "Brister i registrering av utförd tid"),
        ("SABOU", "SAB01"): (EJ, "Allvarliga brister i läkemedelshantering"),
    },
}
# Areas with the deeper follow-up of municipal health care (HSL) in the 2022 follow-up (seed
# 002: "kommunal hälso- och sjukvård"). Our reading: the areas where the municipal HSL
# responsibility (MAS/MAR) applies.
HSL_DEEP_FOLLOWUP = {
    2022: frozenset(
        {
            "SABO",
            "SABOU",
            "KTB",
            "DVA",
            "BHSV",
            "HREH",
            "LSSB",
            "LSSBU",
            "LSSBB",
            "LSSDV",
            "LSSKV",
            "SPBO",
        }
    )
}

# Status history of the action plans for contract year 2022 (seed 002), by (area, provider):
# list of (status, comment). Dates are made up but consistent with the board meetings
# (follow-up 2023-06-08, first report 2023-10-19, this report before 2023-12-07).
PLAN_HISTORY_2022: dict[tuple[str, str], list[tuple[str, str]]] = {}
_APPROVED = [
    ("upprättad", "Åtgärdsplan upprättad i dialog med förvaltningen"),
    ("genomförd", "Åtgärder genomförda enligt plan"),
    ("godkänd", "Åtgärdsplan godkänd av förvaltningen; underlag till nästa års uppföljning"),
]
for _key in (
    ("SABO", "TIO"),
    ("KTB", "TIO"),
    ("HTJ", "LOV03"),
    ("HTJ", "LOV07"),
    ("HTJ", "LOV11"),
    ("HTJ", "LOV14"),
    ("BHSV", "LOV02"),
    ("BHSV", "LOV10"),
    ("HREH", "LOV06"),
    ("HLV", "HL01"),
):
    PLAN_HISTORY_2022[_key] = list(_APPROVED)
PLAN_HISTORY_2022[("SPBO", "TIO")] = [
    _APPROVED[0],
    _APPROVED[1],
    (
        "godkänd",
        "Godkänd åtgärdsplan: omstrukturering av personalstyrkan, handledning, "
        "fokus på bemötande, engagemang och ambitionsnivå",
    ),
]
PLAN_HISTORY_2022[("HLV", "HL03")] = [
    _APPROVED[0],
    ("fortsätter följas", "Uppföljning av enstaka utförares åtgärdsarbete"),
]
for _key in (("FOT", "FOT01"), ("FOT", "FOT02")):
    PLAN_HISTORY_2022[_key] = [
        _APPROVED[0],
        ("genomförd", "Ny lösning för fotsjukvård framtagen i särskilt ärende (KSON 2023-403)"),
    ]
PLAN_HISTORY_2022[("TURB", "TRA01")] = [
    _APPROVED[0],
    (
        "fortsätter följas",
        "Åtgärdsplanen fortsätter följas under 2024; ny upphandling av "
        "samhällsbetalda resor för avtalsperiod från januari 2025",
    ),
]
for _key in (("LSSB", "TIO"), ("LSSDV", "TIO")):
    PLAN_HISTORY_2022[_key] = [
        _APPROVED[0],
        (
            "genomförd",
            "Åtgärder genomförda: genomgång av skydds- och begränsningsåtgärder på "
            "alla enheter, arbete med genomförandeplan; brukarinflytande pågår",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit for a string of digits (the 9 first digits of an org nr)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def is_valid_org_nr(org_nr: str) -> bool:
    """``NNNNNN-NNNN`` (hyphen optional), valid Luhn digit, third digit >= 2."""
    digits = org_nr.replace("-", "")
    return (
        re.fullmatch(r"\d{6}-?\d{4}", org_nr) is not None
        and int(digits[2]) >= 2
        and luhn_check_digit(digits[:9]) == int(digits[9])
    )


def pct_half_up(numerator: float, denominator: float) -> int:
    """``100 * numerator / denominator`` rounded half up to an integer (the indicator rule)."""
    value = Decimal(repr(float(numerator))) * 100 / Decimal(repr(float(denominator)))
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _target(table: dict[int, int], year: int) -> int:
    return table.get(year, table[max(table)])


def _scaled(base: np.ndarray, scale: float, factor: float = 1.0, minimum: int = 0) -> np.ndarray:
    return np.maximum(minimum, np.rint(base * scale * factor)).astype(np.int64)


def unit_places(units: Sequence[Unit], scale: float) -> np.ndarray:
    """Places per residential unit at ``scale`` (at least MIN_UNIT_USERS); LSS housing keeps
    its size at every scale (TARGET_LSS_EXECUTED_PCT)."""
    base = np.array([u.base_size for u in units], dtype=np.float64)
    lss = np.array([u.area in LSS_HOUSING_AREAS for u in units])
    return np.where(lss, base, _scaled(base, scale, minimum=MIN_UNIT_USERS)).astype(np.int64)


def _adjust_to_total(
    values: np.ndarray, caps: np.ndarray, total: int, rng: np.random.Generator
) -> np.ndarray:
    """Add or remove single counts across rows (within 0..cap) until ``values`` sums to
    ``total``; the change is spread over rows chosen at random."""
    values = values.copy()
    if not 0 <= total <= int(caps.sum()):
        raise ValueError(f"total {total} is outside 0..{int(caps.sum())}")
    diff = total - int(values.sum())
    while diff:
        step = 1 if diff > 0 else -1
        room = np.flatnonzero(values < caps) if step > 0 else np.flatnonzero(values > 0)
        chosen = rng.choice(room, size=min(abs(diff), room.size), replace=False)
        values[chosen] += step
        diff -= step * chosen.size
    return values


_DIGIT_RUN = re.compile(r"\d{6}")


def _keys(rng: np.random.Generator, prefix: str, count: int, hex_len: int) -> list[str]:
    """Unique pseudonymous keys ``<prefix><hex>`` with no run of 6+ digits (so that no key can
    be mistaken for a date or a personal identity number)."""
    keys: list[str] = []
    seen: set[str] = set()
    while len(keys) < count:
        for value in rng.integers(0, 16**hex_len, size=count - len(keys)):
            key = f"{prefix}{int(value):0{hex_len}x}"
            if key not in seen and not _DIGIT_RUN.search(key):
                seen.add(key)
                keys.append(key)
    return keys


def _log(message: str) -> None:
    print(f"[sample_data.providers] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# Home care: visits and the monthly report rows derived from them
# --------------------------------------------------------------------------------------------
def _homecare_year(year: int, scale: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The visit log of one year and the home-care monthly report rows (one per unit-month)."""
    rng = _rng(seed, year, 1)
    units = [u for u in UNITS if u.area == "HTJ"]
    n_units = len(units)
    base = np.array([u.base_size for u in units], dtype=np.float64)
    start = np.datetime64(f"{year}-01-01", "D")
    n_days = int((np.datetime64(f"{year + 1}-01-01", "D") - start).astype(int))

    # Users: full-year users (at least MIN_UNIT_USERS per unit) and part-year users.
    n_full = _scaled(base, scale, 0.88, MIN_UNIT_USERS)
    n_part = _scaled(base, scale, 0.26)
    unit_of_user = np.concatenate(
        [np.repeat(np.arange(n_units), n_full), np.repeat(np.arange(n_units), n_part)]
    )
    full = unit_of_user.size - int(n_part.sum())
    n_users = unit_of_user.size
    first = np.zeros(n_users, dtype=np.int64)
    last = np.full(n_users, n_days, dtype=np.int64)  # exclusive
    kind = rng.integers(0, 3, size=n_users)
    span = rng.integers(20, 200, size=n_users)
    begin = rng.integers(0, n_days - 20, size=n_users)
    part = np.arange(n_users) >= full
    leaves = part & (kind == 0)
    joins = part & (kind == 1)
    short = part & (kind == 2)
    last[leaves] = np.minimum(n_days, begin[leaves] + 20)
    first[joins] = begin[joins]
    first[short] = begin[short]
    last[short] = np.minimum(n_days, begin[short] + span[short])
    active = last - first

    # Visits: a user-specific rate (visits per day), days and times at random.
    rate = np.clip(rng.lognormal(np.log(2.45), 0.5, size=n_users), 0.3, 9.0)
    counts = rng.poisson(rate * active)
    user = np.repeat(np.arange(n_users), counts)
    n = user.size
    day = first[user] + (rng.random(n) * active[user]).astype(np.int64)
    bins = np.arange(390, 1320, 30)
    weights = np.array([_HOUR_WEIGHT[b // 60] for b in bins], dtype=np.float64)
    minute_of_day = bins[
        rng.choice(bins.size, size=n, p=weights / weights.sum())
    ] + 5 * rng.integers(0, 6, size=n)
    stype = rng.choice(len(SERVICE_TYPES), size=n, p=np.array([s[1] for s in SERVICE_TYPES]))
    options = np.zeros((len(SERVICE_TYPES), 3), dtype=np.int64)
    n_options = np.array([len(s[2]) for s in SERVICE_TYPES])
    for i, (_, _, opts) in enumerate(SERVICE_TYPES):
        options[i, : len(opts)] = opts
    planned_minutes = options[stype, (rng.random(n) * n_options[stype]).astype(np.int64)]
    start_offset = np.clip(np.rint(rng.normal(0.0, 6.0, size=n)), -30, 45).astype(np.int64)
    actual_start_min = minute_of_day + start_offset
    duration = np.rint(planned_minutes * np.exp(rng.normal(-0.04, 0.22, size=n)))
    duration = np.clip(duration, 3, 3 * planned_minutes).astype(np.int64)
    duration = np.minimum(duration, 1439 - actual_start_min)

    # Staff: each unit has a staff pool, each user a core team of 5 from it.
    pool = np.maximum(6, np.ceil((n_full + n_part) * 0.55)).astype(np.int64)
    pool_offset = np.concatenate([[0], np.cumsum(pool)[:-1]])
    core = (rng.random((n_users, 5)) * pool[unit_of_user][:, None]).astype(np.int64)
    unit = unit_of_user[user]
    from_core = rng.random(n) < 0.7
    local = np.where(
        from_core,
        core[user, rng.integers(0, 5, size=n)],
        (rng.random(n) * pool[unit]).astype(np.int64),
    )
    staff = pool_offset[unit] + local

    # Order by planned start (then unit, user), as a time-tracking export would be.
    planned_abs = day * 1440 + minute_of_day
    sort_key = (planned_abs * n_units + unit) * n_users + user  # < 2**63 at any sane scale
    order = np.argsort(sort_key, kind="stable")
    user, unit, staff, day = user[order], unit[order], staff[order], day[order]
    planned_abs, planned_minutes = planned_abs[order], planned_minutes[order]
    actual_abs = day * 1440 + actual_start_min[order]
    duration, stype = duration[order], stype[order]

    dates = start + day
    month = (dates.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int8)
    dom = (
        (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    ).astype(np.int8)

    # Aggregates for the monthly reports (sorted: group_by order is not deterministic).
    ints = pl.DataFrame(
        {
            "unit": unit.astype(np.int32),
            "month": month,
            "dom": dom,
            "user": user.astype(np.int32),
            "staff": staff.astype(np.int32),
            "minutes": duration.astype(np.int32),
        }
    )
    agg = (
        ints.group_by("unit", "month")
        .agg(pl.col("minutes").sum().alias("minutes"), pl.col("user").n_unique().alias("users"))
        .sort("unit", "month")
    )
    continuity = (
        ints.filter(pl.col("dom") <= 14)
        .group_by("unit", "month", "user")
        .agg(pl.col("staff").n_unique().alias("n"))
        .group_by("unit", "month")
        .agg(pl.col("n").mean().alias("continuity"))
        .sort("unit", "month")
    )
    del ints
    if agg.height != n_units * 12:
        raise AssertionError("every home-care unit must have visits every month")
    agg = agg.join(continuity, on=["unit", "month"], how="left", maintain_order="left")

    # The visit log itself.
    key_rng = _rng(seed, year, 2)
    user_keys = pl.Series(_keys(key_rng, "U", n_users, 12))
    staff_keys = pl.Series(_keys(key_rng, "S", int(pool.sum()), 9))
    org = pl.Series([PROVIDER_BY_KEY[u.provider].org_nr for u in units])
    unit_ids = pl.Series([u.unit_id for u in units])
    stypes = pl.Series([s[0] for s in SERVICE_TYPES])
    epoch = int((start - np.datetime64("1970-01-01", "D")).astype(np.int64)) * 86_400_000
    to_dt = pl.Datetime("ms")
    visits = pl.DataFrame(
        {
            "visit_id": pl.int_range(1, n + 1, eager=True).cast(pl.String).str.zfill(8),
            "provider_org_nr": org.gather(unit),
            "unit_id": unit_ids.gather(unit),
            "user_key": user_keys.gather(user),
            "staff_key": staff_keys.gather(staff),
            "planned_start": pl.Series(epoch + planned_abs * 60_000).cast(to_dt),
            "planned_minutes": pl.Series(planned_minutes.astype(np.int32)),
            "actual_start": pl.Series(epoch + actual_abs * 60_000).cast(to_dt),
            "actual_end": pl.Series(epoch + (actual_abs + duration) * 60_000).cast(to_dt),
            "service_type": stypes.gather(stype),
        }
    ).with_columns(pl.concat_str(pl.lit(f"V{year}-"), pl.col("visit_id")).alias("visit_id"))

    # Monthly report rows: performed hours from the visits (±1.5 %, or +5–10 % for the
    # providers in OFF_PROVIDERS), granted hours and care plans calibrated to the targets.
    rep_rng = _rng(seed, year, 3)
    u_idx = agg["unit"].to_numpy()
    prov = np.array([units[i].provider for i in u_idx])
    off = np.isin(prov, OFF_PROVIDERS)
    factor = np.where(
        off, rep_rng.uniform(1.05, 1.10, agg.height), rep_rng.uniform(0.985, 1.015, agg.height)
    )
    performed = np.round(agg["minutes"].to_numpy() / 60.0 * factor, 2)
    providers = sorted({u.provider for u in units})
    prov_offset = dict(zip(providers, rep_rng.normal(0.0, 0.05, len(providers)), strict=True))
    pog = _target(TARGET_PERFORMED_OF_GRANTED_PCT, year) / 100
    ratio = np.clip(
        pog + np.array([prov_offset[p] for p in prov]) + rep_rng.normal(0.0, 0.03, agg.height),
        0.40,
        0.95,
    )
    granted = performed / ratio
    granted = np.round(granted * performed.sum() / (pog * granted.sum()), 2)
    users = agg["users"].to_numpy().astype(np.int64)
    plans = _care_plans(
        users,
        _target(TARGET_HOMECARE_CARE_PLAN_PCT, year) / 100,
        np.array([prov_offset[p] for p in prov]),
        rep_rng,
    )
    reports = _report_frame(
        units=[units[i] for i in u_idx],
        year=year,
        month=agg["month"].to_numpy(),
        users=users,
        granted=granted,
        performed=performed,
        plans=plans,
        continuity=np.round(agg["continuity"].to_numpy(), 1),
        incidents=rep_rng.poisson(users[:, None] * np.array([0.035, 0.02, 0.015])),
        unexecuted=rep_rng.poisson(0.05, agg.height),
    )
    return visits, reports


def _care_plans(
    users: np.ndarray, target: float, offset: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Users with a current care plan per row, summing to exactly ``target`` of all users
    (rounded half up to a whole user)."""
    share = np.clip(target + offset + rng.normal(0.0, 0.03, users.size), 0.3, 1.0)
    plans = np.minimum(users, np.floor(users * share + rng.random(users.size))).astype(np.int64)
    total = int(
        (Decimal(int(users.sum())) * Decimal(repr(target))).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
    )
    return _adjust_to_total(plans, users, total, rng)


def _lss_december(
    users: np.ndarray, places: np.ndarray, year: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """December users per LSS housing unit and the month's unexecuted decisions such that
    users ÷ (users + unexecuted) rounds to TARGET_LSS_EXECUTED_PCT: the unexecuted decisions
    are seed 004's where given (16 at 2023-12-31), else those nearest the target, and the users
    are moved to the nearest total that gives it (within the places)."""
    target = _target(TARGET_LSS_EXECUTED_PCT, year)
    current = int(users.sum())
    unexecuted = LSS_UNEXECUTED_FIXED.get((year, 12), round(current * (100 - target) / target))
    totals = sorted(range(1, int(places.sum()) + 1), key=lambda total: abs(total - current))
    total = next(t for t in totals if pct_half_up(t, t + unexecuted) == target)
    return _adjust_to_total(users, places, total, rng), unexecuted


def _report_frame(
    *,
    units: Sequence[Unit],
    year: int,
    month: np.ndarray,
    users: np.ndarray,
    granted: np.ndarray | None,
    performed: np.ndarray | None,
    plans: np.ndarray,
    continuity: np.ndarray | None,
    incidents: np.ndarray,
    unexecuted: np.ndarray,
) -> pl.DataFrame:
    n = len(units)
    nulls = pl.Series([None] * n, dtype=pl.Float64)
    return pl.DataFrame(
        {
            "provider": [u.provider for u in units],
            "area_code": [u.area for u in units],
            "year": pl.Series([year] * n, dtype=pl.Int32),
            "month": pl.Series(month.astype(np.int32)),
            "unit_id": [u.unit_id for u in units],
            "unit_name": [u.unit_name for u in units],
            "users": pl.Series(users.astype(np.int64)),
            "granted_hours": nulls if granted is None else pl.Series(granted),
            "performed_hours": nulls if performed is None else pl.Series(performed),
            "users_with_care_plan": pl.Series(plans.astype(np.int64)),
            "staff_continuity": nulls if continuity is None else pl.Series(continuity),
            "incidents_falls": pl.Series(incidents[:, 0].astype(np.int64)),
            "incidents_medication": pl.Series(incidents[:, 1].astype(np.int64)),
            "incidents_other": pl.Series(incidents[:, 2].astype(np.int64)),
            "unexecuted_decisions": pl.Series(unexecuted.astype(np.int64)),
        }
    )


def _residential_year(year: int, scale: float, seed: int) -> pl.DataFrame:
    """Monthly report rows for särskilt boende, korttidsboende and LSS housing."""
    rng = _rng(seed, year, 4)
    units = [u for u in UNITS if u.area in MONTHLY_REPORT_AREAS and u.area != "HTJ"]
    rows = [(u, m) for u in units for m in range(1, 13)]
    row_units = [u for u, _ in rows]
    month = np.array([m for _, m in rows])
    area = np.array([u.area for u in row_units])
    places = unit_places(row_units, scale)
    users = np.maximum(1, places - rng.binomial(places, 0.03))
    lss = np.flatnonzero(np.isin(area, LSS_HOUSING_AREAS))
    december = lss[month[lss] == 12]
    users[december], december_unexecuted = _lss_december(
        users[december], places[december], year, rng
    )
    short_term = area == "KTB"
    users[short_term] = np.rint(
        places[short_term] * rng.uniform(1.2, 1.7, int(short_term.sum()))
    ).astype(np.int64)

    plans = np.zeros(len(rows), dtype=np.int64)
    residential = np.isin(area, RESIDENTIAL_CARE_PLAN_AREAS)
    providers = sorted({u.provider for u in row_units})
    prov_offset = dict(zip(providers, rng.normal(0.0, 0.03, len(providers)), strict=True))
    offset = np.array([prov_offset[u.provider] for u in row_units])
    plans[residential] = _care_plans(
        users[residential],
        _target(TARGET_RESIDENTIAL_CARE_PLAN_PCT, year) / 100,
        offset[residential],
        rng,
    )
    other = ~residential
    share = np.where(short_term, 0.65, 0.86)[other] + rng.normal(0, 0.05, int(other.sum()))
    plans[other] = np.minimum(users[other], np.rint(users[other] * np.clip(share, 0.3, 1.0)))

    rates = np.where(
        np.isin(area, LSS_HOUSING_AREAS)[:, None], [0.03, 0.04, 0.06], [0.12, 0.05, 0.03]
    )
    incidents = rng.poisson(users[:, None] * rates)
    unexecuted = np.where(np.isin(area, ("SABO", "SABOU")), rng.poisson(0.15, len(rows)), 0)
    # LSS housing: a monthly total of unexecuted decisions spread over the LSS units.
    walk = np.clip(np.rint(13 + np.cumsum(rng.normal(0, 1.2, 12))), 6, 24).astype(np.int64)
    for m in range(1, 12):
        idx = lss[month[lss] == m]
        total = LSS_UNEXECUTED_FIXED.get((year, m), int(walk[m - 1]))
        unexecuted[idx] = rng.multinomial(total, places[idx] / places[idx].sum())
    unexecuted[december] = rng.multinomial(
        december_unexecuted, places[december] / places[december].sum()
    )
    return _report_frame(
        units=row_units,
        year=year,
        month=month,
        users=users,
        granted=None,
        performed=None,
        plans=plans,
        continuity=None,
        incidents=incidents,
        unexecuted=unexecuted,
    )


# --------------------------------------------------------------------------------------------
# Writing the monthly reports
# --------------------------------------------------------------------------------------------
_FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)


def _header_values(provider: Provider, area: str, year: int, month: int) -> list[str]:
    return [provider.org_nr, provider.name, area, f"{year}-{month:02d}"]


def _write_report_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({"created": _FIXED_TIME, "author": "", "title": "Månadsrapport KSON"})
    bold = wb.add_format({"bold": True})
    text = wb.add_format({"num_format": "@"})
    head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
    hours = wb.add_format({"num_format": "0.00"})
    one = wb.add_format({"num_format": "0.0"})
    ws = wb.add_worksheet(SHEET_NAME)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 30)
    ws.set_column(2, len(REPORT_COLUMNS) - 1, 14)
    for r, ((label, _), value) in enumerate(zip(HEADER_FIELDS, header, strict=True)):
        ws.write_string(r, 0, label, bold)
        ws.write_string(r, 1, value, text)
    top = len(HEADER_FIELDS) + 1
    for c, (label, _) in enumerate(REPORT_COLUMNS):
        ws.write_string(top, c, label, head)
    for r, row in enumerate(rows, start=top + 1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, text)
            elif c in (3, 4):
                ws.write_number(r, c, value, hours)
            elif c == 6:
                ws.write_number(r, c, value, one)
            else:
                ws.write_number(r, c, value)
    wb.close()


def _csv_field(value: object, column: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.1f}" if column == 6 else f"{value:.2f}"
        return text.replace(".", ",")
    text = str(value)
    if any(ch in text for ch in ';"\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _report_csv_bytes(
    header: Sequence[str], rows: Sequence[Sequence[object]], encoding: str
) -> bytes:
    """The report as Swedish Excel exports it: ``;``, decimal comma, CRLF, every line padded
    with separators to the width of the table."""
    width = len(REPORT_COLUMNS)
    lines = [
        ";".join([label, _csv_field(value, 1)] + [""] * (width - 2))
        for (label, _), value in zip(HEADER_FIELDS, header, strict=True)
    ]
    lines.append(";" * (width - 1))
    lines.append(";".join(label for label, _ in REPORT_COLUMNS))
    lines += [";".join(_csv_field(v, c) for c, v in enumerate(row)) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    return text.encode("utf-8-sig" if encoding == "utf8" else "cp1252")


def _write_reports(
    out_dir: Path, reports: pl.DataFrame, year: int, resubmission_year: int | None
) -> dict[str, int]:
    folder = out_dir / "provider_reports" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    written = {"xlsx": 0, "csv": 0}
    value_cols = [name for _, name in REPORT_COLUMNS]
    groups = reports.sort("provider", "area_code", "month", "unit_id").partition_by(
        "provider", "area_code", "month", as_dict=True, maintain_order=True
    )
    for (provider_key, area, month), frame in groups.items():
        provider = PROVIDER_BY_KEY[str(provider_key)]
        header = _header_values(provider, str(area), year, int(month))
        rows = frame.select(value_cols).rows()
        versions = [("", rows)]
        if year == resubmission_year and (provider_key, area, month) == RESUBMISSION:
            # Version 1 had the granted hours typed into the performed-hours cell of the
            # first unit; version 2 (the values in `reports`) corrects it.
            first = list(rows[0])
            first[4] = first[3]
            versions = [("", [tuple(first), *rows[1:]]), ("_v2", rows)]
        fmt = REPORT_FORMAT.get(provider.key, "xlsx")
        for suffix, content in versions:
            stem = f"{provider.digits}_{area}_{year}-{int(month):02d}{suffix}"
            if fmt == "xlsx":
                _write_report_xlsx(folder / f"{stem}.xlsx", header, content)
                written["xlsx"] += 1
            else:
                encoding = fmt.split("-")[1]
                (folder / f"{stem}.csv").write_bytes(_report_csv_bytes(header, content, encoding))
                written["csv"] += 1
    return written


# --------------------------------------------------------------------------------------------
# Template and registers
# --------------------------------------------------------------------------------------------
_TEMPLATE_HELP: tuple[tuple[str, str], ...] = (
    ("Organisationsnummer", "Vårdgivarens organisationsnummer, NNNNNN-NNNN."),
    ("Vårdgivare", "Vårdgivarens namn."),
    ("Avtalsområde", "Avtalsområdets kod enligt avtalet, t.ex. HTJ (kundval hemtjänst)."),
    ("Period", "Redovisningsmånad som text ÅÅÅÅ-MM, t.ex. 2024-03."),
    ("Enhets-id", "Enhetens id enligt KSON:s register, t.ex. E10001. En rad per enhet."),
    ("Enhetsnamn", "Enhetens namn."),
    ("Antal brukare", "Antal brukare med insats under månaden (heltal)."),
    (
        "Beviljade timmar",
        "Hemtjänst: beviljad tid under månaden, timmar med högst två decimaler. "
        "Lämnas tomt för övriga avtalsområden.",
    ),
    (
        "Utförda timmar",
        "Hemtjänst: utförd tid under månaden, timmar med högst två decimaler. "
        "Lämnas tomt för övriga avtalsområden.",
    ),
    (
        "Brukare med aktuell genomförandeplan",
        "Antal brukare vars genomförandeplan är aktuell vid månadens slut (högst antal brukare).",
    ),
    (
        "Personalkontinuitet",
        "Hemtjänst: genomsnittligt antal olika personal som en brukare "
        "mött under 14 dagar (dag 1–14 i månaden). Tomt för övriga.",
    ),
    ("Avvikelser fall", "Antal rapporterade fallavvikelser under månaden."),
    ("Avvikelser läkemedel", "Antal rapporterade läkemedelsavvikelser under månaden."),
    ("Avvikelser övriga", "Antal övriga rapporterade avvikelser under månaden."),
    ("Ej verkställda beslut", "Antal beslut som inte verkställts vid månadens slut."),
    (
        "Rättelse",
        "En rättad rapport skickas in på nytt med filnamnet "
        "<orgnr>_<avtalsområde>_<ÅÅÅÅ-MM>_v2.xlsx (v3 osv.). Den senaste godkända "
        "versionen ersätter tidigare versioner.",
    ),
    (
        "Personuppgifter",
        "Rapporten får inte innehålla personnummer, namn eller andra "
        "uppgifter som identifierar en enskild person.",
    ),
)


def write_template(path: Path = TEMPLATE_PATH) -> Path:
    """Write the Excel template KSON gives providers (sheet ``Rapport`` and ``Anvisning``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties(
        {"created": _FIXED_TIME, "author": "KSON", "title": "Månadsrapport till KSON (mall)"}
    )
    bold = wb.add_format({"bold": True})
    entry = wb.add_format({"num_format": "@", "bg_color": "#FFF2CC", "border": 1})
    head = wb.add_format(
        {"bold": True, "text_wrap": True, "valign": "top", "bottom": 1, "bg_color": "#DDEBF7"}
    )
    cell = {"bg_color": "#FFF2CC", "border": 1}
    formats = [
        wb.add_format({**cell, "num_format": "@"}),
        wb.add_format({**cell, "num_format": "@"}),
        wb.add_format({**cell, "num_format": "0"}),
        wb.add_format({**cell, "num_format": "0.00"}),
        wb.add_format({**cell, "num_format": "0.00"}),
        wb.add_format({**cell, "num_format": "0"}),
        wb.add_format({**cell, "num_format": "0.0"}),
    ] + [wb.add_format({**cell, "num_format": "0"}) for _ in range(4)]
    ws = wb.add_worksheet(SHEET_NAME)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 30)
    ws.set_column(2, len(REPORT_COLUMNS) - 1, 14)
    for r, (label, _) in enumerate(HEADER_FIELDS):
        ws.write_string(r, 0, label, bold)
        ws.write_blank(r, 1, None, entry)
    ws.data_validation(
        3,
        1,
        3,
        1,
        {
            "validate": "length",
            "criteria": "==",
            "value": 7,
            "input_title": "Period",
            "input_message": "ÅÅÅÅ-MM",
        },
    )
    ws.data_validation(
        0,
        1,
        0,
        1,
        {
            "validate": "length",
            "criteria": "==",
            "value": 11,
            "input_title": "Organisationsnummer",
            "input_message": "NNNNNN-NNNN",
        },
    )
    top = len(HEADER_FIELDS) + 1
    for c, (label, _) in enumerate(REPORT_COLUMNS):
        ws.write_string(top, c, label, head)
    ws.set_row(top, 45)
    first, last = top + 1, top + 40
    for r in range(first, last + 1):
        for c, fmt in enumerate(formats):
            ws.write_blank(r, c, None, fmt)
    for c in (2, 5, 7, 8, 9, 10):
        ws.data_validation(first, c, last, c, {"validate": "integer", "criteria": ">=", "value": 0})
    for c in (3, 4, 6):
        ws.data_validation(first, c, last, c, {"validate": "decimal", "criteria": ">=", "value": 0})
    ws.freeze_panes(first, 0)
    help_ws = wb.add_worksheet("Anvisning")
    help_ws.set_column(0, 0, 36)
    help_ws.set_column(1, 1, 100)
    help_ws.write_string(0, 0, "Fält", bold)
    help_ws.write_string(0, 1, "Anvisning", bold)
    for r, (label, note) in enumerate(_TEMPLATE_HELP, start=1):
        help_ws.write_string(r, 0, label)
        help_ws.write_string(r, 1, note)
    wb.close()
    return path


def register_frames() -> dict[str, pl.DataFrame]:
    """The reference registers as frames: ``contract_areas`` and ``providers``."""
    areas = pl.DataFrame(
        {
            "area_code": [a.code for a in CONTRACT_AREAS],
            "area_name": [a.name for a in CONTRACT_AREAS],
            "service_family": [a.service_family for a in CONTRACT_AREAS],
            "agreement_form": [a.agreement_form for a in CONTRACT_AREAS],
            "valid_from_year": pl.Series(
                [a.valid_from_year for a in CONTRACT_AREAS], dtype=pl.Int32
            ),
            "valid_to_year": pl.Series([a.valid_to_year for a in CONTRACT_AREAS], dtype=pl.Int32),
        }
    )
    providers = pl.DataFrame(
        {
            "org_nr": [p.org_nr for p in PROVIDERS],
            "provider_name": [p.name for p in PROVIDERS],
            "agreement_form": [p.agreement_form for p in PROVIDERS],
        }
    )
    return {"contract_areas": areas, "providers": providers}


def write_registers(folder: Path = REGISTER_DIR) -> list[Path]:
    """Write ``contract_areas.csv`` and ``providers.csv`` (UTF-8, comma, header row)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in register_frames().items():
        path = folder / f"{name}.csv"
        frame.write_csv(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Contract follow-up and action plans
# --------------------------------------------------------------------------------------------
def _followup_year(year: int, seed: int) -> pl.DataFrame:
    spec = FOLLOWUP_SPEC.get(year)
    pairs = [(a, p) for a in CONTRACT_AREAS if a.in_force(year) for p in a.providers]
    if spec is None:  # a year without a written spec: five made-up partial approvals
        rng = _rng(seed, year, 5)
        chosen = rng.choice(len(pairs), size=min(5, len(pairs)), replace=False)
        spec = {
            (pairs[i][0].code, pairs[i][1]): (DELVIS, "Brister i dokumentation")
            for i in sorted(chosen)
        }
    deep = HSL_DEEP_FOLLOWUP.get(year, frozenset())
    rows = []
    for area, provider in pairs:
        assessment, remark = spec.get((area.code, provider), (GODKAND, None))
        rows.append(
            (
                year,
                area.code,
                PROVIDER_BY_KEY[provider].org_nr,
                assessment,
                remark,
                "true" if area.code in deep else "false",
            )
        )
    schema = {
        "contract_year": pl.Int64,
        "area_code": pl.String,
        "provider_org_nr": pl.String,
        "assessment": pl.String,
        "remark": pl.String,
        "hsl_deep_followup": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _action_plans(followups: dict[int, pl.DataFrame], seed: int) -> pl.DataFrame:
    org_to_key = {p.org_nr: p.key for p in PROVIDERS}
    rows: list[tuple[object, ...]] = []
    for year in sorted(followups):
        rng = _rng(seed, year, 6)
        todo = followups[year].filter(pl.col("assessment") != GODKAND)
        # The follow-up of year Y is decided in June of Y+1; plans follow after it.
        created0 = dt.date(year + 1, 8, 21)
        for n, (area, org) in enumerate(
            todo.select("area_code", "provider_org_nr").rows(), start=1
        ):
            plan_id = f"AP{year}-{n:03d}"
            history = PLAN_HISTORY_2022.get((area, org_to_key[org])) if year == 2022 else None
            if history is None:
                roll = rng.random()
                history = (
                    _APPROVED
                    if roll < 0.6
                    else (
                        _APPROVED[:2]
                        if roll < 0.85
                        else [
                            _APPROVED[0],
                            ("fortsätter följas", "Åtgärdsarbetet fortsätter följas"),
                        ]
                    )
                )
            created = created0 + dt.timedelta(days=int(rng.integers(0, 25)))
            date = created
            gaps = (0, int(rng.integers(40, 60)), int(rng.integers(10, 20)))
            for (status, comment), gap in zip(history, gaps, strict=False):
                date = date + dt.timedelta(days=gap)
                rows.append((plan_id, year, area, org, created, status, date, comment))
    schema = {
        "plan_id": pl.String,
        "contract_year": pl.Int64,
        "area_code": pl.String,
        "provider_org_nr": pl.String,
        "created": pl.Date,
        "status": pl.String,
        "status_date": pl.Date,
        "comment": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def generate(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    years: Iterable[int] = DEFAULT_YEARS,
) -> dict:
    """Generate all sample files under ``out_dir`` and return a summary.

    The summary has ``files`` (number of files per kind), ``rows`` (rows per kind and year) and
    ``calibration`` (the calibrated percentages per year, as generated).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir = Path(out_dir)
    years = sorted(set(int(y) for y in years))
    resubmission_year = 2023 if 2023 in years else years[len(years) // 2]
    summary: dict = {
        "out_dir": str(out_dir),
        "scale": scale,
        "seed": seed,
        "years": years,
        "files": {
            "provider_reports_xlsx": 0,
            "provider_reports_csv": 0,
            "visit_logs": 0,
            "contract_followup": 0,
            "action_plans": 0,
        },
        "rows": {"visits": {}, "report_rows": {}, "contract_followup": {}, "action_plans": 0},
        "calibration": {},
    }
    _log(f"out={out_dir} scale={scale} seed={seed} years={years}")
    (out_dir / "visit_logs").mkdir(parents=True, exist_ok=True)
    for year in years:
        t0 = time.perf_counter()
        visits, homecare = _homecare_year(year, scale, seed)
        t1 = time.perf_counter()
        visits.write_csv(
            out_dir / "visit_logs" / f"visits_{year}.csv", datetime_format="%Y-%m-%dT%H:%M:%S"
        )
        t2 = time.perf_counter()
        reports = pl.concat([homecare, _residential_year(year, scale, seed)])
        written = _write_reports(out_dir, reports, year, resubmission_year)
        t3 = time.perf_counter()
        summary["files"]["visit_logs"] += 1
        summary["files"]["provider_reports_xlsx"] += written["xlsx"]
        summary["files"]["provider_reports_csv"] += written["csv"]
        summary["rows"]["visits"][year] = visits.height
        summary["rows"]["report_rows"][year] = reports.height
        summary["calibration"][year] = _calibration(reports)
        _log(
            f"{year}: {visits.height:,} visits by {visits['user_key'].n_unique():,} users "
            f"(generated {t1 - t0:.1f} s, written {t2 - t1:.1f} s); "
            f"{written['xlsx']} xlsx + {written['csv']} csv reports with {reports.height} "
            f"unit rows ({t3 - t2:.1f} s); calibration {summary['calibration'][year]}"
        )
        del visits
    followups = {year: _followup_year(year, seed) for year in years}
    (out_dir / "contract_followup").mkdir(parents=True, exist_ok=True)
    for year, frame in followups.items():
        frame.write_csv(out_dir / "contract_followup" / f"contract_followup_{year}.csv")
        summary["files"]["contract_followup"] += 1
        summary["rows"]["contract_followup"][year] = frame.height
    plans = _action_plans(followups, seed)
    (out_dir / "action_plans").mkdir(parents=True, exist_ok=True)
    plans.write_csv(out_dir / "action_plans" / "action_plans.csv")
    summary["files"]["action_plans"] = 1
    summary["rows"]["action_plans"] = plans.height
    _log(
        f"contract follow-up for {years} "
        f"({sum(summary['rows']['contract_followup'].values())} rows), "
        f"{plans['plan_id'].n_unique()} action plans ({plans.height} status rows)"
    )
    return summary


def _calibration(reports: pl.DataFrame) -> dict[str, int]:
    home = reports.filter(pl.col("area_code") == "HTJ")
    resid = reports.filter(pl.col("area_code").is_in(RESIDENTIAL_CARE_PLAN_AREAS))
    lss_december = reports.filter(
        pl.col("area_code").is_in(LSS_HOUSING_AREAS) & (pl.col("month") == 12)
    )
    return {
        "homecare_care_plan_pct": pct_half_up(
            home["users_with_care_plan"].sum(), home["users"].sum()
        ),
        "residential_care_plan_pct": pct_half_up(
            resid["users_with_care_plan"].sum(), resid["users"].sum()
        ),
        "performed_of_granted_pct": pct_half_up(
            home["performed_hours"].sum(), home["granted_hours"].sum()
        ),
        "lss_executed_pct": pct_half_up(
            lss_december["users"].sum(),
            lss_december["users"].sum() + lss_december["unexecuted_decisions"].sum(),
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m sample_data.providers --out DIR [...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.providers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="output folder for the sample files")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="volume factor (1.0 ≈ 1,000 home-care users, ~1 M visits a year)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--years", type=int, nargs="+", default=list(DEFAULT_YEARS))
    parser.add_argument(
        "--write-template",
        type=Path,
        metavar="PATH",
        help=f"also write the Excel template (repo: {TEMPLATE_PATH.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--write-registers",
        type=Path,
        metavar="DIR",
        help=f"also write the registers (repo: {REGISTER_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    if not (args.out or args.write_template or args.write_registers):
        parser.error("give --out DIR (and/or --write-template / --write-registers)")
    if args.write_template:
        _log(f"template -> {write_template(args.write_template)}")
    if args.write_registers:
        for path in write_registers(args.write_registers):
            _log(f"register -> {path}")
    if args.out:
        t0 = time.perf_counter()
        summary = generate(args.out, scale=args.scale, seed=args.seed, years=args.years)
        _log(f"done in {time.perf_counter() - t0:.1f} s: {summary['files']}")


if __name__ == "__main__":
    main()
