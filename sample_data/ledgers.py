"""Deterministic sample general ledgers (SIE 4) of KSON for 2021–2024, and the finance registers.

Everything here is made up except the few figures taken from the seed documents, listed below.
Any likeness to a real ledger, organisation number or person is coincidental.

Command::

    python -m sample_data.ledgers --out DIR [--scale 1.0] [--seed 20240101] \
        [--years 2021 2022 2023 2024]
    python -m sample_data.ledgers --write-seeds dbt_project/seeds/finance

or from Python ``generate(Path(DIR), scale=1.0, seed=20240101, years=(2021, ..., 2024))``, which
returns (and the command prints) a summary: files and rows written per year, turnover, result,
member contributions, and every deliberate deviation with its exact figures.

What is written
---------------
``DIR/sie/kson_<year>.se`` — SIE type 4E (``#SIETYP 4``, export), ``#FORMAT PC8`` (CP437,
CRLF): ``#FLAGGA``, ``#PROGRAM``, ``#FORMAT``, ``#GEN``, ``#SIETYP``, ``#FNAMN``, ``#ORGNR``
(``222000-2584``, a made-up valid kommunalförbund number, not KSON's real one), ``#RAR 0`` and
``#RAR -1``, ``#VALUTA``, ``#KONTO``/``#KTYP`` for every account of the chart, ``#DIM 1
"Ansvar"``, ``#DIM 2 "Verksamhet"`` (activity codes), ``#DIM 6 "Motpart"`` (counterparty =
care provider, objects ``P01``…``P33``) with their ``#OBJEKT`` rows, ``#IB``/``#UB`` for every
balance-sheet account (year 0, and year -1 from 2022 on), ``#RES`` per income-statement account,
``#PSALDO`` (the month's movement per income-statement account and activity ``{2 "code"}``;
balance-sheet accounts get none), ``#PBUDGET`` (the budget per month, account and activity) and
the vouchers: ``#VER series number date "text"`` with ``#TRANS account {objects} amount [date
"text" [quantity]]`` rows; amounts in SEK with two decimals, credit negative, and every voucher
sums to exactly 0.00 (amounts are built as integer öre).

``DIR/health_care_volumes/health_care_volumes_<year>.csv`` — one file per year in the format
of ``docs/contracts/health_care_volumes.md`` (UTF-8, LF, comma, header ``year,month,
provider_org_nr,service,visits,performed_hours``, hours with a decimal point and two decimals)
for basal hemsjukvård (``hemsjukvard``) and hemrehabilitering (``hemrehab``): the volumes the
payments are computed from (made up).

Voucher series: ``LF`` supplier invoices (one voucher per invoice: debit rows on the cost
account with ``{1 ansvar 2 verksamhet 6 motpart}``, one credit row on 2440 with ``{6
motpart}``), ``LB`` supplier payments (one voucher per payment day; invoices are paid 30 days
after their date), ``M`` member contributions, ``KF``/``KI`` fees invoiced to users and paid,
``L`` payroll and the payment of withheld tax and employer's contributions, ``A`` state grants,
interest, bank fees and year-end entries, ``OS`` the 2024 transition support (omställningsstöd).
Invoices are dated on the last day of the month they pay for (weekly chunks for per-item
invoices), so ``#PSALDO`` months are service months.

Balances carry over: a year's ``#IB`` is the previous year's ``#UB`` (equity plus the previous
year's result), and the invoices, fees and taxes open at year end are paid in January. The
chain starts at 2021 with a made-up opening balance sheet, so generating 2024 alone builds
2021–2023 in memory too (written files are the same either way).

Scale
-----
``--scale`` multiplies the volume-driven streams: home-care hours (taken from
``sample_data.providers`` at the same scale and seed), home health care and rehab volumes,
residential places (not LSS housing: ``sample_data.providers.unit_places``), per-item invoices
(patient transport, visits, aids, interpreters, …) and the user fees. Agreement figures —
member contributions, the direct agreement with Tiohundra AB, capitation, payroll, rents — do
not scale, so only scale 1.0 gives a plausible result (2021 +15, 2022 +6, 2023 −24, 2024 −41
MSEK at the default seed; at 0.01 a large surplus). Scale 1.0 gives ≈ 500,000 transaction rows
a year (≈ 36 MB a file) and costs of 3.2–3.6 billion SEK a year; the tests use 0.01.

Consistency with the provider sample
------------------------------------
- Home care (hemtjänst, area ``HTJ``): one invoice per provider and month with one row per unit:
  the unit's *Utförda timmar* from the provider sample's monthly report (the corrected version
  where a report was resubmitted) × the hourly rate of ``reimbursement_rates.csv``; the hours
  are the row's quantity. Payments therefore match the reports, not the visit logs: the two
  providers whose reports exceed their logs by 5–10 % (Sjöstadens Hemtjänst AB, Edsbro
  Hemtjänst AB) are paid for the reported hours. The provider sample's default years are
  2022–2024; generate it with ``--years 2021 2022 2023 2024`` to have the 2021 reports too.
- Basal hemsjukvård and hemrehabilitering (areas ``BHSV``, ``HREH``): volumes per provider and
  month are invented here and written to ``health_care_volumes_<year>.csv``; paid per visit
  until 2024-01-31 and per performed hour from 2024-02-01 (seed 003). Visits last ≈ 8 % longer
  from February 2024 (made up), so the new terms pay more than 2023, as seed 003 reports.
- Residential care, short-term care, LSS housing: contracted places (the provider sample's units
  at the same scale) × days × a daily rate.

Budget (``#PBUDGET``): per account and activity, the year's outcome × a made-up factor (normal,
mean 1, sd 2.5 %) rounded to 1,000 SEK and spread in twelfths (whole kronor, December takes the
rest); member contributions are budgeted exactly as agreed; the transition support (series
``OS``) is not budgeted.

The 2024 budget also comes as the controllers' budget file (``docs/contracts/budget.md``):
``DIR/budget/budget_2024.xlsx``, sheet ``Budget``, one row per month, account and activity
(``År``, ``Månad``, ``Konto``, ``Ansvar`` left empty, ``Verksamhet``, ``Belopp`` in SEK), with
exactly the figures of the 2024 ``#PBUDGET`` (written only when 2024 is generated).

Deliberate deviations (for the marts to flag)
---------------------------------------------
1. Three provider-months paid more than volume × rate (the extra is spread over the invoice's
   rows; the quantity stays the true volume): Vårdhjälpen Rimbo AB, hemtjänst, 2023-05,
   +12.0 %; Björkens Vård och Omsorg AB, hemtjänst, 2024-10, +8.5 %; Omsorg i Norrtälje AB, basal
   hemsjukvård (per performed hour), 2024-04, +15.0 %. Paid = expected × (1 + pct) rounded half
   up to öre; the SEK figures depend on scale and seed and are in the summary.
2. Member contributions: Norrtälje kommun raises its contribution by only 1.0 % in 2023 (the
   agreement, which covers 2021–2023, raises it by 2.5 % a year from the 2021 base), then by
   5.5 % in 2024 (a year the agreement does not cover). Figures (SEK, not scaled; the
   agreement's amount is the base × 1.025^(year − 2021)): base 1,430,000,000; 2022
   1,467,180,000 (+2.6 %); 2023 1,481,851,800 (+1.0 %, agreement 1,502,393,750, short by
   20,541,950); 2024 1,563,353,649 (+5.5 %). Region Stockholm: base 1,700,000,000 (budget 2021
   1,645,000,000 + 55,000,000, seed 000); 2022 1,751,000,000 (+3.0 %), 2023 1,821,040,000
   (+4.0 %), 2024 1,912,092,000 (+5.0 %). Booked monthly (twelfths, the 10th; December takes
   the öre left over) on 3331 / 3341, credit, against the bank. The Region's extra
   contribution for postponed care (seed 000, point 6): 2.6 % of its share of the state grant
   (made up: 476,000,000 in 2021, 335,000,000 in 2022), i.e. 12,376,000 and 8,710,000, booked
   on 3332 on 30 June; the costs booked for it (ansvar 410, activity 612, twelve invoices from
   Tiohundra AB) are 11,900,000 and 9,150,000: 476,000 left over in 2021, 440,000 short in
   2022. Neither is scaled.
3. The 5 MSEK transition support of autumn 2024 (seed 003) is booked apart: series ``OS``,
   account 4560 *Omställningsstöd till utförare* with the provider as counterparty, text
   "Omställningsstöd kundval 2024": 5,000,000.00 SEK to the five kundval providers of basal
   hemsjukvård/hemrehabilitering on 2024-10-15, financed by state stimulus money booked in the
   same series on 2024-09-16 (account 3311). It is not in the budget.

From the seeds: the 2.5 % increase and the 55 MSEK added to Region Stockholm's base (seed
000), the extra Region contribution for postponed care in 2021 and 2022 (2.6 % of the Region's
share of the state grant, seed 000, point 6; the shares and costs made up), per visit → per
performed hour from 2024-02-01 and 5 MSEK transition support in autumn 2024 (seed 003),
premises rents from Norrtälje kommun +13.4 % in 2024 and "about 1 MSEK a year" per LSS housing
place (seed 004). Made up: all amounts and rates
(reimbursement rates, daily rates, budgets, salaries, …), the 2021 contribution bases, the
chart of accounts at this level (modelled on Kommun-Bas), the activity codes (modelled on SCB's
räkenskapssammandrag), responsibility codes, invoice numbers and volumes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xlsxwriter

from sample_data import providers as prov

DEFAULT_SEED = prov.DEFAULT_SEED
DEFAULT_YEARS = (2021, 2022, 2023, 2024)
FIRST_YEAR = 2021  # the chain of balances starts here (made-up opening balance sheet)
REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = REPO_ROOT / "dbt_project" / "seeds" / "finance"

COMPANY_NAME = "Kommunalförbundet Sjukvård och omsorg i Norrtälje"
ORG_NR = "222000-2584"  # made up (valid Luhn digit); not KSON's real number
PROGRAM = ("KSON exempeldata", "1.0")
EOL = "\r\n"
DUE_DAYS = 30

# --------------------------------------------------------------------------------------------
# Reference tables (written to dbt_project/seeds/finance/ by write_seeds)
# --------------------------------------------------------------------------------------------
# Chart of accounts at the level the sample uses, modelled on Kommun-Bas (made up in detail).
ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("1310", "Aktier och andelar i koncernföretag"),
    ("1510", "Kundfordringar"),
    ("1930", "Bank"),
    ("2010", "Eget kapital"),
    ("2220", "Avsättningar för pensioner"),
    ("2440", "Leverantörsskulder"),
    ("2710", "Personalens källskatt"),
    ("2730", "Lagstadgade sociala avgifter och särskild löneskatt"),
    ("2920", "Semesterlöneskuld"),
    ("3130", "Avgifter inom vård och omsorg"),
    ("3311", "Riktade statsbidrag"),
    ("3331", "Medlemsbidrag Region Stockholm"),
    ("3332", "Extra medlemsbidrag Region Stockholm, uppskjuten vård"),
    ("3341", "Medlemsbidrag Norrtälje kommun"),
    ("4520", "Bidrag till föreningar och organisationer"),
    ("4560", "Omställningsstöd till utförare"),
    ("4650", "Köp av huvudverksamhet från kommunägda företag"),
    ("4660", "Köp av huvudverksamhet från privata företag, kundval (LOV)"),
    ("4670", "Köp av huvudverksamhet från privata företag, upphandlad (LOU)"),
    ("4680", "Köp av huvudverksamhet från ekonomiska och ideella föreningar"),
    ("5010", "Löner månadsavlönade"),
    ("5120", "Sjuklön"),
    ("5190", "Förändring av semesterlöneskuld"),
    ("5510", "Arvoden till förtroendevalda"),
    ("5610", "Lagstadgade arbetsgivaravgifter"),
    ("5620", "Avtalsenliga arbetsgivaravgifter"),
    ("5710", "Pensionskostnader"),
    ("5810", "Utbildning och övriga personalkostnader"),
    ("6110", "Lokalhyror"),
    ("6410", "Förbrukningsmaterial och kontorsmaterial"),
    ("6540", "IT-tjänster och licenser"),
    ("7010", "Konsulttjänster"),
    ("7020", "Köp av beställartjänster från Region Stockholm"),
    ("8410", "Ränteintäkter"),
    ("8550", "Räntekostnad på pensionsavsättning"),
    ("8590", "Bankkostnader och övriga finansiella kostnader"),
)
INCOME_8 = {"8410"}  # class-8 accounts that are income


def account_kind(account: str) -> str:
    """balance_sheet / operating_income / operating_cost / taxes_grants_financial."""
    cls = int(account[0])
    if cls <= 2:
        return "balance_sheet"
    if cls == 3:
        return "operating_income"
    if cls <= 7:
        return "operating_cost"
    return "taxes_grants_financial"


def account_type(account: str) -> str:
    """SIE ``#KTYP``: T asset, S liability/equity, I income, K cost."""
    cls = int(account[0])
    if cls == 1:
        return "T"
    if cls == 2:
        return "S"
    if cls == 3 or account in INCOME_8:
        return "I"
    return "K"


BALANCE_ACCOUNTS = tuple(a for a, _ in ACCOUNTS if int(a[0]) <= 2)

# Responsibility codes (dimension 1, made up).
ANSVAR: tuple[tuple[str, str], ...] = (
    ("100", "Direktion och förbundsledning"),
    ("110", "Ekonomi och administration"),
    ("200", "Äldreomsorg"),
    ("300", "Funktionsnedsättning och socialpsykiatri"),
    ("400", "Hälso- och sjukvård"),
    ("410", "Uppskjuten vård (extra medlemsbidrag)"),
    ("500", "Myndighetsenheten"),
    ("900", "Finansiering"),
)


@dataclass(frozen=True)
class Activity:
    """An activity (verksamhet, dimension 2)."""

    code: str
    name: str
    service: str  # service_family of contract_areas.csv, "" for none
    group: str
    ansvar: str


_A = Activity
ACTIVITIES: tuple[Activity, ...] = (
    _A("511", "Hemtjänst i ordinärt boende", "hemtjanst", "aldreomsorg", "200"),
    _A("512", "Basal hemsjukvård i ordinärt boende", "hemsjukvard", "aldreomsorg", "200"),
    _A("513", "Hemrehabilitering", "hemrehab", "aldreomsorg", "200"),
    _A("514", "Korttidsboende för äldre", "korttidsboende", "aldreomsorg", "200"),
    _A("515", "Dagverksamhet för äldre", "dagverksamhet", "aldreomsorg", "200"),
    _A("516", "Trygghetslarm och nattpatrull", "trygghetslarm", "aldreomsorg", "200"),
    _A("517", "Matdistribution", "matdistribution", "aldreomsorg", "200"),
    _A("518", "Biståndsbedömt trygghetsboende", "trygghetsboende", "aldreomsorg", "200"),
    _A("519", "Anhörigstöd", "anhorigstod", "aldreomsorg", "200"),
    _A("520", "Särskilt boende för äldre", "sarskilt_boende", "aldreomsorg", "200"),
    _A("531", "Bostad med särskild service för vuxna, LSS", "lss_boende", "lss", "300"),
    _A(
        "532", "Bostad med särskild service för barn och unga, LSS", "lss_boende_barn", "lss", "300"
    ),
    _A("533", "Daglig verksamhet, LSS", "lss_daglig_verksamhet", "lss", "300"),
    _A("534", "Personlig assistans, LSS", "lss_personlig_assistans", "lss", "300"),
    _A("535", "Korttidsvistelse och korttidstillsyn, LSS", "lss_korttid", "lss", "300"),
    _A("536", "Ledsagar- och avlösarservice, LSS", "lss_ovrigt", "lss", "300"),
    _A("541", "Boende, socialpsykiatri", "socialpsykiatri", "socialpsykiatri", "300"),
    _A("542", "Boendestöd, socialpsykiatri", "socialpsykiatri", "socialpsykiatri", "300"),
    _A("543", "Sysselsättning, socialpsykiatri", "socialpsykiatri", "socialpsykiatri", "300"),
    _A("611", "Primärvård", "halso_sjukvard", "halso_sjukvard", "400"),
    _A(
        "612",
        "Specialiserad somatisk vård (Norrtälje sjukhus)",
        "halso_sjukvard",
        "halso_sjukvard",
        "400",
    ),
    _A("613", "Specialiserad psykiatrisk vård", "psykiatri", "halso_sjukvard", "400"),
    _A("614", "Tandvård", "tandvard", "halso_sjukvard", "400"),
    _A("615", "Ambulanssjukvård", "halso_sjukvard", "halso_sjukvard", "400"),
    _A("616", "Sjukresor och turbundna resor", "transport", "halso_sjukvard", "400"),
    _A("617", "Hjälpmedel", "hjalpmedel", "halso_sjukvard", "400"),
    _A("618", "Fotsjukvård", "fotsjukvard", "halso_sjukvard", "400"),
    _A("619", "Tolktjänster", "tolk", "halso_sjukvard", "400"),
    _A("910", "Politisk verksamhet", "", "administration", "100"),
    _A("920", "Gemensam administration och beställarfunktion", "", "administration", "110"),
    _A("930", "Myndighetsutövning, biståndsbedömning", "", "administration", "500"),
    _A("990", "Finansiering, medlemsbidrag och finansiella poster", "", "finansiering", "900"),
)
ACTIVITY_BY_CODE = {a.code: a for a in ACTIVITIES}

# Counterparty objects (dimension 6): one per provider of the provider register.
COUNTERPARTY_DIM = 6
COUNTERPARTY = {p.key: f"P{i:02d}" for i, p in enumerate(prov.PROVIDERS, start=1)}
# Cost account for purchases by the provider's agreement form / kind of owner.
PURCHASE_ACCOUNT = {"direktavtal": "4650", "LOV": "4660", "LOU": "4670"}
PURCHASE_ACCOUNT_OVERRIDE = {"AMB01": "4680"}  # an economic association (ek. för.)


def purchase_account(provider_key: str) -> str:
    """The group-46 account purchases from this provider are booked on."""
    provider = prov.PROVIDER_BY_KEY[provider_key]
    return PURCHASE_ACCOUNT_OVERRIDE.get(provider_key, PURCHASE_ACCOUNT[provider.agreement_form])


# Reimbursement rates (SEK, made up): (service, basis, valid_from, valid_to, rate).
REIMBURSEMENT_RATES: tuple[tuple[str, str, str, str | None, int], ...] = (
    ("hemtjanst", "per_performed_hour", "2021-01-01", "2021-12-31", 445),
    ("hemtjanst", "per_performed_hour", "2022-01-01", "2022-12-31", 459),
    ("hemtjanst", "per_performed_hour", "2023-01-01", "2023-12-31", 476),
    ("hemtjanst", "per_performed_hour", "2024-01-01", None, 502),
    ("hemsjukvard", "per_visit", "2021-01-01", "2021-12-31", 392),
    ("hemsjukvard", "per_visit", "2022-01-01", "2022-12-31", 404),
    ("hemsjukvard", "per_visit", "2023-01-01", "2024-01-31", 418),
    ("hemsjukvard", "per_performed_hour", "2024-02-01", None, 655),
    ("hemrehab", "per_visit", "2021-01-01", "2021-12-31", 548),
    ("hemrehab", "per_visit", "2022-01-01", "2022-12-31", 565),
    ("hemrehab", "per_visit", "2023-01-01", "2024-01-31", 586),
    ("hemrehab", "per_performed_hour", "2024-02-01", None, 712),
)


def reimbursement_rate(service: str, year: int, month: int) -> tuple[str, int]:
    """(basis, rate in SEK) in force on the first day of the month."""
    day = f"{year}-{month:02d}-01"
    for s, basis, start, end, rate in REIMBURSEMENT_RATES:
        if s == service and start <= day and (end is None or day <= end):
            return basis, rate
    raise ValueError(f"no {service} rate for {day}")


@dataclass(frozen=True)
class Member:
    """A member of KSON and its contributions under the 2021 agreement (seed 000)."""

    key: str
    name: str
    account: str
    budget_2021: int  # SEK, made up
    added: int  # SEK added to the base by the agreement (seed 000: 55 MSEK for the Region)
    increases: dict[int, str]  # year -> increase in percent over the previous year

    @property
    def base(self) -> int:
        return self.budget_2021 + self.added


BASE_YEAR = 2021
LAST_AGREEMENT_YEAR = 2023  # the agreement covers 2021-2023 (raised in 2022 and 2023)
MIN_INCREASE_PCT = Decimal("2.5")
LATER_INCREASE_PCT = "3.0"  # years after 2024 (made up)
MEMBERS: tuple[Member, ...] = (
    Member(
        "region_stockholm",
        "Region Stockholm",
        "3331",
        1_645_000_000,
        55_000_000,
        {2022: "3.0", 2023: "4.0", 2024: "5.0"},
    ),
    Member(
        "norrtalje_kommun",
        "Norrtälje kommun",
        "3341",
        1_430_000_000,
        0,
        {2022: "2.6", 2023: "1.0", 2024: "5.5"},
    ),
)
# Seed 000 point 6: in 2021 and 2022 Region Stockholm adds 2.6 % of its share of the state
# grant for postponed care (uppskjuten vård), followed up against the costs booked for it (on
# ansvar 410). Year -> (the Region's share of the grant, the costs), SEK, made up.
EXTRA_CONTRIBUTION_PCT = Decimal("2.6")
EXTRA_CONTRIBUTION_ACCOUNT = "3332"
POSTPONED_CARE_ANSVAR = "410"
POSTPONED_CARE = {2021: (476_000_000, 11_900_000), 2022: (335_000_000, 9_150_000)}


def extra_region_contribution(year: int) -> int:
    """Seed 000 point 6: 2.6 % of the Region's share of the state grant, whole SEK (0 for a
    year without one)."""
    share, _ = POSTPONED_CARE.get(year, (0, 0))
    return _half_up(share * EXTRA_CONTRIBUTION_PCT / 100)


def member_contribution(member: Member, year: int) -> int:
    """The member's contribution for ``year`` in whole SEK (each year's increase rounded half
    up to the krona)."""
    if year < BASE_YEAR:
        raise ValueError(f"no contribution before {BASE_YEAR}")
    amount = Decimal(member.base)
    for y in range(BASE_YEAR + 1, year + 1):
        pct = Decimal(member.increases.get(y, LATER_INCREASE_PCT))
        amount = (amount * (1 + pct / 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(amount)


def minimum_contribution(member: Member, year: int) -> Decimal:
    """The agreement's minimum: the 2021 base raised by 2.5 % a year (compounded)."""
    return Decimal(member.base) * (1 + MIN_INCREASE_PCT / 100) ** (year - BASE_YEAR)


# --------------------------------------------------------------------------------------------
# Cost model (all made up). Amounts are SEK for 2021 and follow the cost index.
# --------------------------------------------------------------------------------------------
INDEX_PCT = {2022: 3.0, 2023: 4.0, 2024: 4.5}  # cost increase over the year before
LATER_INDEX_PCT = 3.0


def cost_index(year: int) -> float:
    """Cumulative cost index, 2021 = 1.0."""
    value = 1.0
    for y in range(FIRST_YEAR + 1, year + 1):
        value *= 1 + INDEX_PCT.get(y, LATER_INDEX_PCT) / 100
    return value


# Direct agreement with Tiohundra AB: (area, activity, SEK a year), paid in twelfths.
TIOHUNDRA_BLOCKS: tuple[tuple[str, str, int], ...] = (
    ("AKUT", "612", 96_000_000),
    ("SOMA", "612", 515_000_000),
    ("GER", "612", 84_000_000),
    ("ASIH", "612", 41_000_000),
    ("PALL", "612", 24_000_000),
    ("PSYK", "613", 118_000_000),
    ("BUP", "613", 44_000_000),
    ("BVC", "611", 29_000_000),
    ("MVC", "611", 24_000_000),
    ("UNGM", "611", 8_000_000),
    ("PRRH", "611", 34_000_000),
    ("DVA", "515", 14_000_000),
    ("TRYB", "518", 9_000_000),
    ("LARM", "516", 21_000_000),
    ("MATD", "517", 11_000_000),
    ("ANHS", "519", 4_000_000),
    ("LSSBB", "532", 18_000_000),
    ("LSSDV", "533", 62_000_000),
    ("LSSKV", "535", 19_000_000),
    ("LSSKT", "535", 9_000_000),
    ("LSSLA", "536", 9_000_000),
    ("LSSPA", "534", 45_000_000),
    ("SPBO", "541", 48_000_000),
    ("SPBS", "542", 22_000_000),
    ("SPSS", "543", 12_000_000),
)
# Fixed monthly payments (capitation in husläkarverksamhet, ambulance): (provider, area,
# activity, SEK a year).
FIXED_PAYMENTS: tuple[tuple[str, str, str, int], ...] = (
    ("TIO", "HLV", "611", 148_000_000),
    ("HL01", "HLV", "611", 44_000_000),
    ("HL02", "HLV", "611", 31_000_000),
    ("HL03", "HLV", "611", 24_000_000),
    ("AMB01", "AMB", "615", 86_000_000),
)
# Residential places: area -> (activity, SEK per place and day in 2021).
PLACE_RATES = {
    "SABO": ("520", 2150),
    "SABOU": ("520", 2080),
    "KTB": ("514", 2600),
    "LSSB": ("531", 2200),
    "LSSBU": ("531", 2490),
}
# Per-item invoices: (provider, area, activity, row text, items a year at scale 1.0,
# mean SEK in 2021, log-normal sigma). Invoiced weekly (four invoices a month).
ITEM_STREAMS: tuple[tuple[str, str, str, str, int, int, float], ...] = (
    ("TRA02", "SJRE", "616", "Sjukresa", 168_000, 430, 0.5),
    ("TRA01", "TURB", "616", "Turbunden resa", 72_000, 240, 0.4),
    ("FYS01", "PRRH", "611", "Rehabiliteringsbesök", 46_000, 560, 0.25),
    ("HUD01", "HUD", "612", "Besök hudmottagning", 12_000, 1150, 0.3),
    ("SPE01", "SPEC", "612", "Specialistläkarbesök", 31_000, 1380, 0.35),
    ("LOG01", "LOGO", "611", "Logopedbesök", 6_500, 880, 0.25),
    ("HL01", "HLV", "611", "Besöksersättning", 30_000, 310, 0.2),
    ("HL02", "HLV", "611", "Besöksersättning", 20_000, 310, 0.2),
    ("HL03", "HLV", "611", "Besöksersättning", 15_000, 310, 0.2),
    ("FOT01", "FOT", "618", "Fotvårdsbehandling", 5_000, 480, 0.2),
    ("FOT02", "FOT", "618", "Fotvårdsbehandling", 4_500, 480, 0.2),
    ("TOL01", "TOLK", "619", "Tolkuppdrag", 9_500, 1150, 0.45),
    ("TAN01", "TAND", "614", "Nödvändig tandvård", 6_500, 1700, 0.6),
    ("TIO", "HJLP", "617", "Hjälpmedel", 62_000, 820, 0.8),
)
ITEM_GROWTH_PCT = 1.5  # more items each year
# Basal hemsjukvård / hemrehabilitering volumes: visits a month at scale 1.0 and hours a visit.
HEALTH_CARE_VISITS = {
    "hemsjukvard": {"TIO": 3200, "LOV01": 900, "LOV02": 800, "LOV06": 700, "LOV10": 300},
    "hemrehab": {"TIO": 700, "LOV01": 250, "LOV06": 200},
}
HOURS_PER_VISIT = {"hemsjukvard": 0.62, "hemrehab": 0.85}
LONGER_VISITS_FROM_2024_02 = 1.08  # visits get longer when time is paid (made up)
HEALTH_CARE_AREA = {"hemsjukvard": ("BHSV", "512"), "hemrehab": ("HREH", "513")}
SERVICE_TEXT = {
    "hemtjanst": "Hemtjänst",
    "hemsjukvard": "Basal hemsjukvård",
    "hemrehab": "Hemrehabilitering",
}


@dataclass(frozen=True)
class PaymentDeviation:
    """A provider-month deliberately paid more than volume × rate."""

    provider: str
    service: str
    year: int
    month: int
    pct: Decimal  # paid = expected * (1 + pct / 100), rounded half up to öre


PAYMENT_DEVIATIONS: tuple[PaymentDeviation, ...] = (
    PaymentDeviation("LOV03", "hemtjanst", 2023, 5, Decimal("12.0")),
    PaymentDeviation("LOV11", "hemtjanst", 2024, 10, Decimal("8.5")),
    PaymentDeviation("LOV02", "hemsjukvard", 2024, 4, Decimal("15.0")),
)

# Transition support 2024 (seed 003: 5 MSEK in autumn 2024; the split is made up):
# (provider, activity, SEK).
TRANSITION_SUPPORT_YEAR = 2024
TRANSITION_SUPPORT: tuple[tuple[str, str, int], ...] = (
    ("TIO", "512", 1_250_000),
    ("TIO", "513", 500_000),
    ("LOV01", "512", 650_000),
    ("LOV01", "513", 300_000),
    ("LOV02", "512", 700_000),
    ("LOV06", "512", 700_000),
    ("LOV06", "513", 300_000),
    ("LOV10", "512", 600_000),
)
TRANSITION_SUPPORT_TEXT = "Omställningsstöd kundval 2024"
TRANSITION_SUPPORT_DATE = dt.date(2024, 10, 15)
TRANSITION_GRANT_DATE = dt.date(2024, 9, 16)

# Targeted state grants: year -> (date, activity, SEK, text). Years after 2024 use 2024's.
STATE_GRANTS: dict[int, tuple[tuple[str, str, int, str], ...]] = {
    2021: (
        ("04-30", "511", 12_500_000, "Statsbidrag äldreomsorgslyftet"),
        ("06-30", "611", 9_800_000, "Statsbidrag god och nära vård"),
        ("10-29", "541", 6_200_000, "Statsbidrag psykisk hälsa"),
    ),
    2022: (
        ("04-29", "511", 14_100_000, "Statsbidrag äldreomsorgslyftet"),
        ("06-30", "611", 11_200_000, "Statsbidrag god och nära vård"),
        ("10-31", "541", 6_400_000, "Statsbidrag psykisk hälsa"),
    ),
    2023: (
        ("04-28", "511", 8_300_000, "Statsbidrag äldreomsorgslyftet"),
        ("06-30", "611", 10_500_000, "Statsbidrag god och nära vård"),
        ("10-31", "541", 6_100_000, "Statsbidrag psykisk hälsa"),
    ),
    2024: (
        ("04-30", "511", 5_900_000, "Statsbidrag kompetenssatsning äldreomsorg"),
        ("06-28", "611", 9_900_000, "Statsbidrag god och nära vård"),
        ("10-31", "541", 5_800_000, "Statsbidrag psykisk hälsa"),
    ),
}
# Fees invoiced to users a month at scale 1.0: activity -> SEK (2021).
MONTHLY_FEES = {"511": 850_000, "520": 1_150_000, "514": 60_000, "517": 300_000, "516": 180_000}
# Premises rents charged by Norrtälje kommun: activity -> SEK a year in 2021; increases per year
# (2024: +13.4 %, seed 004).
RENTS = {"520": 62_000_000, "531": 24_000_000, "541": 9_000_000, "920": 4_200_000}
RENT_INCREASE_PCT = {2022: 2.0, 2023: 3.1, 2024: 13.4}
# Payroll: ansvar -> (activity, salaries a month in 2021, SEK).
SALARIES = {
    "100": ("920", 420_000),
    "110": ("920", 1_350_000),
    "200": ("920", 1_150_000),
    "300": ("920", 950_000),
    "400": ("920", 820_000),
    "500": ("930", 2_700_000),
}
FEES_TO_POLITICIANS = 130_000  # a month, ansvar 100, activity 910
SOCIAL_FEES_PCT = 31.42
AGREED_FEES_PCT = 6.0
PENSION_PCT = 5.5
TAX_PCT = 30.0
SALARY_INCREASE_PCT = {2022: 2.2, 2023: 2.3, 2024: 4.1}
MONTHLY_INTEREST = {2021: 4_000, 2022: 55_000, 2023: 420_000, 2024: 510_000}
OPENING_STATIC = {  # made-up balances on 2021-01-01 besides the open items (SEK)
    "1310": 10_000_000,
    "1930": 210_000_000,
    "2220": -48_000_000,
    "2920": -6_800_000,
}
SERIES_TEXT = {
    "A": "Memorial",
    "KF": "Kundfakturor",
    "KI": "Kundinbetalningar",
    "L": "Lön",
    "LB": "Leverantörsbetalningar",
    "LF": "Leverantörsfakturor",
    "M": "Medlemsbidrag",
    "OS": "Omställningsstöd",
}
SETTLE_SERIES = {"2440": "LB", "1510": "KI", "2710": "L", "2730": "L"}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _rng(seed: int, year: int, component: int) -> np.random.Generator:
    return prov._rng(seed, year, 100 + component)


def _ore(sek: int | float) -> int:
    return int(round(sek * 100))


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sek(ore: int) -> str:
    """Öre as an SIE amount: ``-1234.50``."""
    sign = "-" if ore < 0 else ""
    ore = abs(int(ore))
    return f"{sign}{ore // 100}.{ore % 100:02d}"


def _month_start(year: int, month: int) -> np.datetime64:
    return np.datetime64(f"{year}-{month:02d}-01", "D")


def _month_end(year: int, month: int) -> np.datetime64:
    return (np.datetime64(f"{year}-{month:02d}", "M") + 1).astype("datetime64[D]") - 1


def _twelfths(annual_ore: int) -> np.ndarray:
    """Twelve monthly amounts summing exactly to ``annual_ore`` (December takes the rest)."""
    monthly = np.full(12, annual_ore // 12, dtype=np.int64)
    monthly[11] = annual_ore - 11 * (annual_ore // 12)
    return monthly


def _hundredths(expr: pl.Expr) -> pl.Expr:
    """Non-negative integer hundredths as text with two decimals: 81225 -> "812.25"."""
    return pl.concat_str(
        [(expr // 100).cast(pl.String), pl.lit("."), (expr % 100).cast(pl.String).str.zfill(2)]
    )


def _hundredths_series(values: np.ndarray) -> pl.Series:
    return pl.DataFrame({"h": values}).select(_hundredths(pl.col("h")))["h"]


def _log(message: str) -> None:
    print(f"[sample_data.ledgers] {message}", flush=True)


ROW_SCHEMA: dict[str, Any] = {
    "v": pl.Int64,
    "account": pl.String,
    "ansvar": pl.String,
    "act": pl.String,
    "cp": pl.String,
    "amount": pl.Int64,
    "tdate": pl.Date,
    "text": pl.String,
    "qty": pl.String,
}
ENTRY_SCHEMA: dict[str, Any] = {
    "account": pl.String,
    "cp": pl.String,
    "amount": pl.Int64,
    "pay_date": pl.Date,
}


def _column(name: str, value: Any, n: int) -> pl.Series | pl.Expr:
    dtype = ROW_SCHEMA[name]
    if isinstance(value, pl.Series):
        return value.cast(dtype).alias(name)
    if isinstance(value, np.ndarray) or isinstance(value, list | tuple):
        return pl.Series(name, value, dtype=dtype)
    if isinstance(value, np.datetime64):
        value = value.astype(dt.date)
    return pl.lit(value, dtype=dtype).alias(name)


def _rows(v: Any, account: Any, amount: Any, **optional: Any) -> pl.DataFrame:
    """A frame of ledger rows; scalars are broadcast. Optional: ansvar, act, cp, tdate, text,
    qty. When ``act`` is given and ``ansvar`` is not, the activity's ansvar is used."""
    v = np.asarray(v, dtype=np.int64)
    n = v.size
    amount = np.broadcast_to(np.asarray(amount, dtype=np.int64), (n,)).copy()
    frame = pl.DataFrame({"v": v, "amount": amount})
    if "act" in optional and "ansvar" not in optional:
        act = optional["act"]
        if isinstance(act, str):
            optional["ansvar"] = ACTIVITY_BY_CODE[act].ansvar
        else:
            lookup = {a.code: a.ansvar for a in ACTIVITIES}
            optional["ansvar"] = pl.Series(list(act), dtype=pl.String).replace_strict(lookup)
    columns = [_column("account", account, n)]
    for name in ("ansvar", "act", "cp", "tdate", "text", "qty"):
        columns.append(_column(name, optional.get(name), n))
    return frame.with_columns(columns).select(list(ROW_SCHEMA))


# --------------------------------------------------------------------------------------------
# The book of one year
# --------------------------------------------------------------------------------------------
class _Book:
    """Collects vouchers, their rows and the open items they create (to be settled)."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.vouchers: list[pl.DataFrame] = []
        self.rows: list[pl.DataFrame] = []
        self.entries: list[pl.DataFrame] = []
        self.n = 0

    def add(self, series: str, dates: Any, texts: Sequence[str], rows: pl.DataFrame) -> None:
        """Vouchers with local ids 0..len(dates)-1 in ``rows``."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        count = dates.size
        if len(texts) != count:
            raise ValueError("one text per voucher")
        self.vouchers.append(
            pl.DataFrame(
                {
                    "v": np.arange(self.n, self.n + count, dtype=np.int64),
                    "series": [series] * count,
                    "date": pl.Series(dates, dtype=pl.Date),
                    "vtext": list(texts),
                }
            )
        )
        self.rows.append(rows.with_columns(pl.col("v") + self.n))
        self.n += count

    def simple(
        self, series: str, date: np.datetime64 | dt.date, text: str, rows: pl.DataFrame
    ) -> None:
        """One voucher; ``rows`` must have ``v == 0``."""
        self.add(series, [np.datetime64(date, "D")], [text], rows)

    def entry(self, account: str, cp: Any, amount: Any, pay_date: Any) -> None:
        """Open items to settle against the bank on ``pay_date`` (amount = the settling row)."""
        amount = np.atleast_1d(np.asarray(amount, dtype=np.int64))
        n = amount.size
        pay = np.broadcast_to(np.asarray(pay_date, dtype="datetime64[D]"), (n,))
        cps = list(cp) if isinstance(cp, list | tuple | np.ndarray) else [cp] * n
        self.entries.append(
            pl.DataFrame(
                {
                    "account": [account] * n,
                    "cp": pl.Series(cps, dtype=pl.String),
                    "amount": amount,
                    "pay_date": pl.Series(pay, dtype=pl.Date),
                },
                schema=ENTRY_SCHEMA,
            )
        )

    def invoices(
        self,
        cps: Sequence[str | None],
        dates: Any,
        texts: Sequence[str],
        lines: pl.DataFrame,
        series: str = "LF",
    ) -> None:
        """Supplier invoices: ``lines`` (local ids) are the debit rows; each voucher gets a
        credit row on 2440 for its total and an open item paid DUE_DAYS later."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        count = dates.size
        local = lines["v"].to_numpy()
        totals = np.bincount(local, weights=lines["amount"].to_numpy(), minlength=count)
        totals = np.rint(totals).astype(np.int64)
        if (totals <= 0).any():
            raise AssertionError("an invoice without a positive total")
        cp_series = pl.Series(list(cps), dtype=pl.String)
        credit = _rows(np.arange(count), "2440", -totals, cp=cp_series)
        self.add(series, dates, texts, pl.concat([lines, credit]))
        self.entry("2440", list(cps), totals, dates + DUE_DAYS)


# --------------------------------------------------------------------------------------------
# Streams of one year
# --------------------------------------------------------------------------------------------
def _members(book: _Book, year: int) -> list[dict[str, Any]]:
    out = []
    dates = [np.datetime64(f"{year}-{m:02d}-10", "D") for m in range(1, 13)]
    for member in MEMBERS:
        annual = member_contribution(member, year)
        monthly = _twelfths(annual * 100)
        v = np.repeat(np.arange(12), 2)
        accounts = ["1930", member.account] * 12
        amounts = np.column_stack([monthly, -monthly]).ravel()
        rows = _rows(v, accounts, amounts).with_columns(
            pl.when(pl.col("account") == member.account)
            .then(pl.lit("900"))
            .otherwise(None)
            .alias("ansvar"),
            pl.when(pl.col("account") == member.account)
            .then(pl.lit("990"))
            .otherwise(None)
            .alias("act"),
        )
        texts = [f"Medlemsbidrag {member.name} {year}-{m:02d}" for m in range(1, 13)]
        book.add("M", dates, texts, rows)
        out.append({"member": member.key, "annual_sek": annual})
    extra = extra_region_contribution(year)
    if extra:
        rows = _rows(
            [0, 0], ["1930", EXTRA_CONTRIBUTION_ACCOUNT], [extra * 100, -extra * 100]
        ).with_columns(
            pl.Series("ansvar", [None, "900"], dtype=pl.String),
            pl.Series("act", [None, "990"], dtype=pl.String),
        )
        book.simple(
            "M",
            np.datetime64(f"{year}-06-30"),
            "Extra medlemsbidrag Region Stockholm, uppskjuten vård",
            rows,
        )
    return out


def _state_grants(book: _Book, year: int) -> None:
    grants = STATE_GRANTS.get(year, STATE_GRANTS[max(STATE_GRANTS)])
    for day, act, amount, text in grants:
        rows = pl.concat(
            [
                _rows([0], "1930", [amount * 100]),
                _rows([0], "3311", [-amount * 100], act=act),
            ]
        )
        book.simple("A", np.datetime64(f"{year}-{day}"), text, rows)


def _transition_support(book: _Book, year: int) -> dict[str, Any] | None:
    if year != TRANSITION_SUPPORT_YEAR:
        return None
    total = sum(a for _, _, a in TRANSITION_SUPPORT)
    grant = pl.concat(
        [_rows([0], "1930", [total * 100]), _rows([0], "3311", [-total * 100], act="512")]
    )
    book.simple(
        "OS",
        TRANSITION_GRANT_DATE,
        "Statliga stimulansmedel för omställningsstöd kundval",
        grant,
    )
    keys = list(dict.fromkeys(k for k, _, _ in TRANSITION_SUPPORT))
    local = [keys.index(k) for k, _, _ in TRANSITION_SUPPORT]
    lines = _rows(
        local,
        "4560",
        [a * 100 for _, _, a in TRANSITION_SUPPORT],
        act=[act for _, act, _ in TRANSITION_SUPPORT],
        cp=[COUNTERPARTY[k] for k, _, _ in TRANSITION_SUPPORT],
        tdate=TRANSITION_SUPPORT_DATE,
        text=TRANSITION_SUPPORT_TEXT,
    )
    book.invoices(
        [COUNTERPARTY[k] for k in keys],
        [np.datetime64(TRANSITION_SUPPORT_DATE, "D")] * len(keys),
        [f"{TRANSITION_SUPPORT_TEXT}, {prov.PROVIDER_BY_KEY[k].name}" for k in keys],
        lines,
        series="OS",
    )
    per_provider: dict[str, int] = {}
    for k, _, a in TRANSITION_SUPPORT:
        per_provider[k] = per_provider.get(k, 0) + a
    return {
        "date": TRANSITION_SUPPORT_DATE.isoformat(),
        "series": "OS",
        "account": "4560",
        "text": TRANSITION_SUPPORT_TEXT,
        "total_sek": sek(total * 100),
        "per_provider": {
            prov.PROVIDER_BY_KEY[k].org_nr: {
                "name": prov.PROVIDER_BY_KEY[k].name,
                "counterparty": COUNTERPARTY[k],
                "sek": sek(a * 100),
            }
            for k, a in per_provider.items()
        },
    }


def _fees(book: _Book, year: int, scale: float, rng: np.random.Generator) -> None:
    acts = list(MONTHLY_FEES)
    base = np.array([MONTHLY_FEES[a] for a in acts], dtype=np.float64) * cost_index(year) * scale
    amounts = np.rint(base[None, :] * rng.normal(1.0, 0.03, (12, len(acts))) * 100)
    amounts = np.maximum(amounts, 100).astype(np.int64)  # (month, activity)
    v = np.repeat(np.arange(12), len(acts))
    fees = _rows(v, "3130", -amounts.ravel(), act=acts * 12)
    totals = amounts.sum(axis=1)
    receivable = _rows(np.arange(12), "1510", totals)
    dates = [_month_end(year, m) for m in range(1, 13)]
    texts = [f"Avgifter vård och omsorg {year}-{m:02d}" for m in range(1, 13)]
    book.add("KF", dates, texts, pl.concat([receivable, fees]))
    # paid the 25th of the next month
    pay = [
        (np.datetime64(f"{year}-{m:02d}", "M") + 1).astype("datetime64[D]") + 24
        for m in range(1, 13)
    ]
    book.entry("1510", None, -totals, pay)


def _monthly_invoices(
    book: _Book,
    year: int,
    provider: str,
    lines_per_month: list[tuple[str, float, str]],
    text: str,
    **objects: str,
) -> None:
    """One invoice a month from ``provider`` with the same rows each month, given as
    (activity, SEK a year, row text); each row gets a twelfth of its annual amount.
    ``objects``: e.g. ``ansvar`` instead of the activity's."""
    cp = COUNTERPARTY[provider]
    account = purchase_account(provider)
    v, acts, amounts, texts, tdates = [], [], [], [], []
    for act, annual, row_text in lines_per_month:
        monthly = _twelfths(_ore(annual))
        for m in range(12):
            v.append(m)
            acts.append(act)
            amounts.append(int(monthly[m]))
            texts.append(f"{row_text} {year}-{m + 1:02d}")
            tdates.append(_month_end(year, m + 1))
    order = np.argsort(np.array(v), kind="stable")
    lines = _rows(
        np.array(v)[order],
        account,
        np.array(amounts)[order],
        act=[acts[i] for i in order],
        cp=cp,
        tdate=np.array(tdates, dtype="datetime64[D]")[order],
        text=[texts[i] for i in order],
        **objects,
    )
    name = prov.PROVIDER_BY_KEY[provider].name
    book.invoices(
        [cp] * 12,
        [_month_end(year, m) for m in range(1, 13)],
        [f"{name}, {text} {year}-{m:02d}" for m in range(1, 13)],
        lines,
    )


def _agreements(book: _Book, year: int) -> None:
    index = cost_index(year)
    blocks = [
        (act, annual * index, prov.AREA_BY_CODE[area].name)
        for area, act, annual in TIOHUNDRA_BLOCKS
    ]
    _monthly_invoices(book, year, "TIO", blocks, "direktavtal")
    for provider, area, act, annual in FIXED_PAYMENTS:
        text = "Ambulanssjukvård" if area == "AMB" else "Vårdpeng husläkarverksamhet"
        _monthly_invoices(book, year, provider, [(act, annual * index, text)], text)
    if year in POSTPONED_CARE:  # extra operations at Norrtälje sjukhus (seed 000, point 6)
        text = "Uppskjuten vård"
        lines = [("612", POSTPONED_CARE[year][1], text)]
        _monthly_invoices(book, year, "TIO", lines, text, ansvar=POSTPONED_CARE_ANSVAR)


def _places(book: _Book, year: int, scale: float) -> None:
    index = cost_index(year)
    units = [u for u in prov.UNITS if u.area in PLACE_RATES]
    places = prov.unit_places(units, scale)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, u in enumerate(units):
        groups.setdefault((u.provider, u.area), []).append(i)
    cps, dates, texts, parts = [], [], [], []
    v = 0
    for (provider, area), idx in groups.items():
        act, rate_2021 = PLACE_RATES[area]
        rate = int(round(rate_2021 * index))
        for m in range(1, 13):
            end = _month_end(year, m)
            days = int((end - _month_start(year, m)).astype(int)) + 1
            n_places = places[idx]
            parts.append(
                _rows(
                    np.full(len(idx), v),
                    purchase_account(provider),
                    n_places * days * rate * 100,
                    act=act,
                    cp=COUNTERPARTY[provider],
                    tdate=end,
                    text=[f"Platser {units[i].unit_id} {year}-{m:02d}" for i in idx],
                    qty=[str(int(p * days)) for p in n_places],
                )
            )
            cps.append(COUNTERPARTY[provider])
            dates.append(end)
            name = prov.PROVIDER_BY_KEY[provider].name
            texts.append(f"{name}, {prov.AREA_BY_CODE[area].name} {year}-{m:02d}")
            v += 1
    book.invoices(cps, dates, texts, pl.concat(parts))


def _apply_deviation(amounts: np.ndarray, dev: PaymentDeviation) -> tuple[np.ndarray, int, int]:
    """Scale the rows so that their total is expected × (1 + pct) rounded half up; returns the
    new rows, the expected and the paid total (öre)."""
    expected = int(amounts.sum())
    paid = _half_up(Decimal(expected) * (1 + dev.pct / 100))
    scaled = np.rint(amounts * (paid / expected)).astype(np.int64)
    scaled[0] += paid - int(scaled.sum())
    return scaled, expected, paid


def _deviation_record(
    dev: PaymentDeviation,
    basis: str,
    volume: str,
    rate: int,
    expected: int,
    paid: int,
) -> dict[str, Any]:
    p = prov.PROVIDER_BY_KEY[dev.provider]
    over = paid - expected
    return {
        "kind": "payment_over_volume_times_rate",
        "provider_org_nr": p.org_nr,
        "provider_name": p.name,
        "counterparty": COUNTERPARTY[dev.provider],
        "service": dev.service,
        "period": f"{dev.year}-{dev.month:02d}",
        "basis": basis,
        "volume": volume,
        "rate_sek": f"{rate}.00",
        "expected_sek": sek(expected),
        "paid_sek": sek(paid),
        "over_sek": sek(over),
        "over_pct": str((Decimal(over) * 100 / Decimal(expected)).quantize(Decimal("0.01"))),
        "configured_pct": str(dev.pct),
    }


def _homecare(book: _Book, year: int, scale: float, seed: int) -> list[dict[str, Any]]:
    """Hemtjänst: performed hours of the provider sample's monthly reports × the hourly rate."""
    _, reports = prov._homecare_year(year, scale, seed)
    r = reports.filter(pl.col("area_code") == "HTJ").sort("provider", "month", "unit_id")
    hours = np.rint(r["performed_hours"].to_numpy() * 100).astype(np.int64)
    months = r["month"].to_numpy().astype(np.int64)
    keys = r["provider"].to_list()
    rates = np.array([reimbursement_rate("hemtjanst", year, int(m))[1] for m in range(1, 13)])
    amounts = hours * rates[months - 1]
    providers = sorted(set(keys))
    pidx = np.array([providers.index(k) for k in keys])
    invoice_key = pidx * 12 + (months - 1)
    uniq, local = np.unique(invoice_key, return_inverse=True)
    deviations = []
    for dev in PAYMENT_DEVIATIONS:
        if dev.service != "hemtjanst" or dev.year != year or dev.provider not in providers:
            continue
        mask = (pidx == providers.index(dev.provider)) & (months == dev.month)
        new, expected, paid = _apply_deviation(amounts[mask], dev)
        amounts[mask] = new
        total_hours = int(hours[mask].sum())
        deviations.append(
            _deviation_record(
                dev,
                "per_performed_hour",
                f"{total_hours // 100}.{total_hours % 100:02d} hours",
                int(rates[dev.month - 1]),
                expected,
                paid,
            )
        )
    unit_ids = r["unit_id"]
    lines = _rows(
        local,
        pl.Series([purchase_account(k) for k in keys]),
        amounts,
        act="511",
        cp=pl.Series([COUNTERPARTY[k] for k in keys]),
        tdate=np.array([_month_end(year, int(m)) for m in months], dtype="datetime64[D]"),
        text=("Hemtjänst " + unit_ids + pl.Series([f" {year}-{int(m):02d}" for m in months])),
    ).with_columns(_hundredths_series(hours).alias("qty"))
    inv_provider = [providers[int(k) // 12] for k in uniq]
    inv_month = [int(k) % 12 + 1 for k in uniq]
    book.invoices(
        [COUNTERPARTY[k] for k in inv_provider],
        [_month_end(year, m) for m in inv_month],
        [
            f"{prov.PROVIDER_BY_KEY[k].name}, kundval hemtjänst {year}-{m:02d}"
            for k, m in zip(inv_provider, inv_month, strict=True)
        ],
        lines,
    )
    return deviations


def health_care_volumes(year: int, scale: float, seed: int) -> pl.DataFrame:
    """Made-up visits and performed hours per provider, month and service (basal hemsjukvård,
    hemrehabilitering)."""
    rng = _rng(seed, year, 3)
    level = _rng(seed, 0, 3)  # provider-specific visit length, the same every year
    rows = []
    for service, providers in HEALTH_CARE_VISITS.items():
        for key, base in providers.items():
            length = HOURS_PER_VISIT[service] * float(level.lognormal(0.0, 0.1))
            months = np.arange(1, 13)
            season = 1 + 0.08 * np.cos(2 * np.pi * (months - 1) / 12)
            growth = 1.02 ** (year - FIRST_YEAR)
            visits = np.maximum(1, rng.poisson(np.maximum(5.0, base * scale) * season * growth))
            per_visit = length * rng.lognormal(0.0, 0.04, 12)
            longer = np.array(
                [
                    LONGER_VISITS_FROM_2024_02
                    if reimbursement_rate(service, year, int(m))[0] == "per_performed_hour"
                    else 1.0
                    for m in months
                ]
            )
            hours = np.rint(visits * per_visit * longer * 100).astype(np.int64)
            for m in range(12):
                rows.append(
                    (
                        year,
                        m + 1,
                        prov.PROVIDER_BY_KEY[key].org_nr,
                        service,
                        int(visits[m]),
                        int(hours[m]),
                    )
                )
    frame = pl.DataFrame(
        rows,
        schema={
            "year": pl.Int32,
            "month": pl.Int32,
            "provider_org_nr": pl.String,
            "service": pl.String,
            "visits": pl.Int64,
            "hours_x100": pl.Int64,
        },
        orient="row",
    )
    return frame.sort("year", "month", "provider_org_nr", "service")


def _health_care(book: _Book, year: int, volumes: pl.DataFrame) -> list[dict[str, Any]]:
    """Basal hemsjukvård and hemrehabilitering: per visit before 2024-02-01, per performed hour
    from then on."""
    org_to_key = {p.org_nr: p.key for p in prov.PROVIDERS}
    vol = volumes.sort("provider_org_nr", "service", "month")
    keys = [org_to_key[o] for o in vol["provider_org_nr"]]
    services = vol["service"].to_list()
    months = vol["month"].to_numpy()
    visits = vol["visits"].to_numpy()
    hours = vol["hours_x100"].to_numpy()
    amounts, qtys, texts, bases, rates = [], [], [], [], []
    for i, (service, m) in enumerate(zip(services, months, strict=True)):
        basis, rate = reimbursement_rate(service, year, int(m))
        bases.append(basis)
        rates.append(rate)
        if basis == "per_visit":
            amounts.append(int(visits[i]) * rate * 100)
            qtys.append(str(int(visits[i])))
            texts.append(f"{SERVICE_TEXT[service]} {year}-{int(m):02d}, besök")
        else:
            amounts.append(int(hours[i]) * rate)
            qtys.append(f"{hours[i] // 100}.{hours[i] % 100:02d}")
            texts.append(f"{SERVICE_TEXT[service]} {year}-{int(m):02d}, utförd tid")
    amounts_arr = np.array(amounts, dtype=np.int64)
    deviations = []
    for dev in PAYMENT_DEVIATIONS:
        if dev.service not in HEALTH_CARE_VISITS or dev.year != year:
            continue
        hit = [
            i
            for i in range(len(keys))
            if keys[i] == dev.provider and services[i] == dev.service and months[i] == dev.month
        ]
        if len(hit) != 1:
            raise AssertionError(f"deviation {dev} matches {len(hit)} rows")
        i = hit[0]
        new, expected, paid = _apply_deviation(amounts_arr[i : i + 1], dev)
        amounts_arr[i] = new[0]
        unit = "hours" if bases[i] == "per_performed_hour" else "visits"
        deviations.append(
            _deviation_record(dev, bases[i], f"{qtys[i]} {unit}", rates[i], expected, paid)
        )
    n = len(keys)
    lines = _rows(
        np.arange(n),
        [purchase_account(k) for k in keys],
        amounts_arr,
        act=[HEALTH_CARE_AREA[s][1] for s in services],
        cp=[COUNTERPARTY[k] for k in keys],
        tdate=np.array([_month_end(year, int(m)) for m in months], dtype="datetime64[D]"),
        text=texts,
        qty=qtys,
    )
    book.invoices(
        [COUNTERPARTY[k] for k in keys],
        [_month_end(year, int(m)) for m in months],
        [
            f"{prov.PROVIDER_BY_KEY[k].name}, {SERVICE_TEXT[s].lower()} {year}-{int(m):02d}"
            for k, s, m in zip(keys, services, months, strict=True)
        ],
        lines,
    )
    return deviations


def _items(book: _Book, year: int, scale: float, rng: np.random.Generator) -> int:
    """Per-item invoices (transport, visits, aids, …): four invoices a month per provider,
    one row per item. Returns the number of items."""
    start = np.datetime64(f"{year}-01-01", "D")
    n_days = int((np.datetime64(f"{year + 1}-01-01", "D") - start).astype(int))
    index = cost_index(year)
    growth = (1 + ITEM_GROWTH_PCT / 100) ** (year - FIRST_YEAR)
    cps: list[str] = []
    dates: list[np.ndarray] = []
    texts: list[str] = []
    parts: list[pl.DataFrame] = []
    offset = 0
    total = 0
    for provider, area, act, label, count, mean, sigma in ITEM_STREAMS:
        if not prov.AREA_BY_CODE[area].in_force(year):
            continue
        n = int(rng.poisson(count * scale * growth))
        if n == 0:
            continue
        day = np.sort(rng.integers(0, n_days, n))
        price = mean * index * rng.lognormal(-(sigma**2) / 2, sigma, n)
        amount = np.maximum(100, np.rint(price * 100)).astype(np.int64)
        when = start + day
        month = when.astype("datetime64[M]")
        dom = (when - month.astype("datetime64[D]")).astype(np.int64)
        chunk = np.minimum(dom // 7, 3)
        key = month.astype(np.int64) * 4 + chunk
        uniq, local = np.unique(key, return_inverse=True)
        m0 = (uniq // 4).astype("datetime64[M]")
        c = uniq % 4
        first = m0.astype("datetime64[D]")
        last = (m0 + 1).astype("datetime64[D]") - 1
        inv_dates = np.where(c < 3, first + 7 * (c + 1) - 1, last)
        name = prov.PROVIDER_BY_KEY[provider].name
        cp = COUNTERPARTY[provider]
        parts.append(
            _rows(
                local + offset,
                purchase_account(provider),
                amount,
                act=act,
                cp=cp,
                tdate=when,
                text=label,
            )
        )
        cps += [cp] * uniq.size
        dates.append(inv_dates)
        texts += [
            f"{name}, faktura {year % 100:02d}{int(cp[1:]):02d}{j + 1:03d}"
            for j in range(uniq.size)
        ]
        offset += uniq.size
        total += n
    book.invoices(cps, np.concatenate(dates), texts, pl.concat(parts))
    return total


def _admin(book: _Book, year: int, rng: np.random.Generator) -> None:
    """Rents, IT, consultants, ordering services from the Region, office costs, training,
    grants to associations: supplier invoices without a counterparty object."""
    rent_index = 1.0
    for y in range(FIRST_YEAR + 1, year + 1):
        rent_index *= 1 + RENT_INCREASE_PCT.get(y, LATER_INDEX_PCT) / 100
    index = cost_index(year)
    # Rents from Norrtälje kommun, monthly in advance (dated the 1st).
    acts = list(RENTS)
    monthly = np.stack([_twelfths(_ore(RENTS[a] * rent_index)) for a in acts], axis=1)
    lines = _rows(
        np.repeat(np.arange(12), len(acts)),
        "6110",
        monthly.ravel(),
        act=acts * 12,
        tdate=np.repeat([_month_start(year, m) for m in range(1, 13)], len(acts)),
        text=[f"Lokalhyra {year}-{m:02d}" for m in range(1, 13) for _ in acts],
    )
    book.invoices(
        [None] * 12,
        [_month_start(year, m) for m in range(1, 13)],
        [f"Norrtälje kommun, lokalhyror {year}-{m:02d}" for m in range(1, 13)],
        lines,
    )
    # IT services monthly; ordering services from Region Stockholm quarterly (seed 000 p. 11).
    it = _twelfths(_ore(11_400_000 * index))
    book.invoices(
        [None] * 12,
        [_month_end(year, m) for m in range(1, 13)],
        [f"IT-tjänster {year}-{m:02d}" for m in range(1, 13)],
        _rows(np.arange(12), "6540", it, act="920", text="IT-tjänster och licenser"),
    )
    quarters = np.full(4, _ore(9_600_000 * index) // 4, dtype=np.int64)
    book.invoices(
        [None] * 4,
        [_month_end(year, m) for m in (3, 6, 9, 12)],
        [f"Region Stockholm, beställartjänster kvartal {q} {year}" for q in range(1, 5)],
        _rows(np.arange(4), "7020", quarters, act="920", text="Beställartjänster HSF"),
    )
    # Many small invoices: consultants, office material, training, grants.
    start = np.datetime64(f"{year}-01-01", "D")
    n_days = int((np.datetime64(f"{year + 1}-01-01", "D") - start).astype(int))
    small = (
        ("7010", "920", "Konsulttjänster", 30, 180_000, 0.7),
        ("6410", "920", "Kontorsmaterial", 700, 2_400, 0.8),
        ("6410", "930", "Förbrukningsmaterial", 500, 1_800, 0.8),
        ("5810", "920", "Utbildning", 150, 9_000, 0.6),
        ("4520", "920", "Föreningsbidrag", 24, 250_000, 0.5),
    )
    for account, act, text, count, mean, sigma in small:
        n = int(rng.poisson(count))
        if n == 0:
            continue
        days = np.sort(rng.integers(0, n_days - DUE_DAYS, n))
        amount = np.rint(mean * index * rng.lognormal(-(sigma**2) / 2, sigma, n) * 100)
        amount = np.maximum(amount, 100).astype(np.int64)
        when = start + days
        book.invoices(
            [None] * n,
            when,
            [f"{text}, faktura {j + 1}" for j in range(n)],
            _rows(np.arange(n), account, amount, act=act, tdate=when, text=text),
        )


def _payroll(book: _Book, year: int, rng: np.random.Generator) -> None:
    """Monthly payroll per ansvar; tax and employer's contributions paid the 12th of the next
    month; pension premiums paid monthly."""
    index = 1.0
    for y in range(FIRST_YEAR + 1, year + 1):
        index *= 1 + SALARY_INCREASE_PCT.get(y, LATER_INDEX_PCT) / 100
    ansvar = list(SALARIES)
    for m in range(1, 13):
        date = np.datetime64(f"{year}-{m:02d}-25", "D")
        salaries = np.array(
            [SALARIES[a][1] * index for a in ansvar], dtype=np.float64
        ) * rng.normal(1.0, 0.01, len(ansvar))
        salaries = np.rint(salaries).astype(np.int64) * 100
        sick = (
            np.rint(salaries * rng.uniform(0.006, 0.02, len(ansvar)) / 100).astype(np.int64) * 100
        )
        fees = np.int64(round(FEES_TO_POLITICIANS * index)) * 100
        gross = salaries + sick
        social = np.rint(gross * SOCIAL_FEES_PCT / 100 / 100).astype(np.int64) * 100
        agreed = np.rint(gross * AGREED_FEES_PCT / 100 / 100).astype(np.int64) * 100
        social_fees = np.int64(round(fees * SOCIAL_FEES_PCT / 100 / 100)) * 100
        acts = [SALARIES[a][0] for a in ansvar]
        debit = pl.concat(
            [
                _rows(np.zeros(len(ansvar)), "5010", salaries, ansvar=ansvar, act=acts),
                _rows(np.zeros(len(ansvar)), "5120", sick, ansvar=ansvar, act=acts),
                _rows([0], "5510", [fees], ansvar="100", act="910"),
                _rows(np.zeros(len(ansvar)), "5610", social, ansvar=ansvar, act=acts),
                _rows([0], "5610", [social_fees], ansvar="100", act="910"),
                _rows(np.zeros(len(ansvar)), "5620", agreed, ansvar=ansvar, act=acts),
            ]
        )
        all_gross = int(gross.sum() + fees)
        tax = int(round(all_gross * TAX_PCT / 100 / 100)) * 100
        contributions = int(social.sum() + social_fees + agreed.sum())
        credit = _rows(
            [0, 0, 0],
            ["2710", "2730", "1930"],
            [-tax, -contributions, -(all_gross - tax)],
        )
        book.simple("L", date, f"Lön {year}-{m:02d}", pl.concat([debit, credit]))
        pay = np.datetime64(f"{year}-{m:02d}", "M") + 1
        pay_date = pay.astype("datetime64[D]") + 11
        book.entry("2710", None, [tax], pay_date)
        book.entry("2730", None, [contributions], pay_date)
        pension = np.rint(gross * PENSION_PCT / 100 / 100).astype(np.int64) * 100
        rows = pl.concat(
            [
                _rows(np.zeros(len(ansvar)), "5710", pension, ansvar=ansvar, act=acts),
                _rows([0], "1930", [-int(pension.sum())]),
            ]
        )
        book.simple("L", date, f"Pensionspremier {year}-{m:02d}", rows)


def _financial_and_year_end(book: _Book, year: int, rng: np.random.Generator) -> None:
    interest = MONTHLY_INTEREST.get(year, MONTHLY_INTEREST[max(MONTHLY_INTEREST)])
    for m in range(1, 13):
        end = _month_end(year, m)
        amount = int(round(interest * float(rng.uniform(0.8, 1.2)))) * 100
        fee = int(round(9_000 * float(rng.uniform(0.9, 1.1)))) * 100
        rows = pl.concat(
            [
                _rows([0], "1930", [amount]),
                _rows([0], "8410", [-amount], act="990"),
                _rows([0], "8590", [fee], act="990"),
                _rows([0], "1930", [-fee]),
            ]
        )
        book.simple("A", end, f"Ränta och bankavgifter {year}-{m:02d}", rows)
    end = np.datetime64(f"{year}-12-31", "D")
    vacation = int(round(rng.normal(250_000, 300_000))) * 100
    book.simple(
        "A",
        end,
        f"Förändring av semesterlöneskuld {year}",
        pl.concat([_rows([0], "5190", [vacation], act="920"), _rows([0], "2920", [-vacation])]),
    )
    pension = int(round(rng.uniform(1_600_000, 2_600_000))) * 100
    pension_interest = int(round(rng.uniform(600_000, 1_200_000))) * 100
    book.simple(
        "A",
        end,
        f"Förändring av pensionsavsättning {year}",
        pl.concat(
            [
                _rows([0], "5710", [pension], act="920"),
                _rows([0], "8550", [pension_interest], act="990"),
                _rows([0], "2220", [-(pension + pension_interest)]),
            ]
        ),
    )


# --------------------------------------------------------------------------------------------
# Settling open items, numbering, balances, budget
# --------------------------------------------------------------------------------------------
def _settle(book: _Book, entries: pl.DataFrame) -> None:
    """Payments against the bank: one voucher per series (LB, KI, L) and day."""
    if entries.is_empty():
        return
    e = entries.with_columns(pl.col("account").replace_strict(SETTLE_SERIES).alias("series")).sort(
        "series", "pay_date", "account", "cp", "amount", nulls_last=True
    )
    keys = e.select("series", "pay_date").unique(maintain_order=True)
    keys = keys.with_row_index("local")
    e = e.join(keys, on=["series", "pay_date"], how="left", maintain_order="left")
    texts = {
        "LB": "Leverantörsbetalningar",
        "KI": "Inbetalningar kundfordringar",
        "L": "Betalning av skatter och avgifter",
    }
    for series in keys["series"].unique(maintain_order=True).to_list():
        ks = keys.filter(pl.col("series") == series).with_row_index("v")
        es = e.filter(pl.col("series") == series).join(
            ks.select("local", "v"), on="local", how="left", maintain_order="left"
        )
        v = es["v"].to_numpy()
        count = ks.height
        totals = np.rint(np.bincount(v, weights=es["amount"].to_numpy(), minlength=count)).astype(
            np.int64
        )
        rows = pl.concat(
            [
                _rows(v, es["account"], es["amount"].to_numpy(), cp=es["cp"]),
                _rows(np.arange(count), "1930", -totals),
            ]
        )
        dates = ks["pay_date"].to_numpy().astype("datetime64[D]")
        book.add(
            series,
            dates,
            [f"{texts[series]} {d}" for d in dates.astype(str)],
            rows,
        )


@dataclass
class _Opening:
    balances: dict[str, int]  # öre per balance-sheet account
    entries: pl.DataFrame  # open items paid in the year


@dataclass
class YearLedger:
    """One generated year, before writing."""

    year: int
    vouchers: pl.DataFrame  # v, series, number, date, vtext (in file order)
    rows: pl.DataFrame  # v, account, ansvar, act, cp, amount, tdate, text, qty (file order)
    ib: dict[str, int]
    ub: dict[str, int]
    res: dict[str, int]
    budget: pl.DataFrame  # period, account, act, amount
    carry: pl.DataFrame
    volumes: pl.DataFrame
    deviations: list[dict[str, Any]] = field(default_factory=list)
    contributions: list[dict[str, Any]] = field(default_factory=list)
    transition_support: dict[str, Any] | None = None
    items: int = 0

    def next_opening(self) -> _Opening:
        balances = dict(self.ub)
        balances["2010"] = balances.get("2010", 0) + sum(self.res.values())
        return _Opening(balances, self.carry)


def _number(book: _Book) -> tuple[pl.DataFrame, pl.DataFrame]:
    vouchers = pl.concat(book.vouchers).sort("series", "date", "v")
    vouchers = vouchers.with_columns(
        (pl.int_range(pl.len()).over("series") + 1).alias("number"),
        pl.int_range(pl.len()).alias("ord"),
    )
    rows = pl.concat(book.rows).with_row_index("seq")
    rows = (
        rows.join(vouchers.select("v", "ord"), on="v", how="left")
        .sort("ord", "seq")
        .drop("seq", "ord")
    )
    sums = rows.group_by("v").agg(pl.col("amount").sum())
    if sums.filter(pl.col("amount") != 0).height:
        raise AssertionError("a voucher does not balance")
    return vouchers.drop("ord"), rows


def _budget(rows: pl.DataFrame, vouchers: pl.DataFrame, year: int, seed: int) -> pl.DataFrame:
    """The budget per month, account and activity: the year's outcome per account and activity
    × a made-up factor, rounded to thousands and spread in twelfths; member contributions are
    budgeted exactly as agreed; the transition support (series OS) is not in the budget."""
    rng = _rng(seed, year, 8)
    os_vouchers = vouchers.filter(pl.col("series") == "OS")["v"]
    result = rows.filter(
        pl.col("account").str.slice(0, 1).cast(pl.Int32) >= 3,
        ~pl.col("v").is_in(os_vouchers.implode()),
    )
    totals = result.group_by("account", "act").agg(pl.col("amount").sum()).sort("account", "act")
    exact = {m.account for m in MEMBERS} | {EXTRA_CONTRIBUTION_ACCOUNT}
    factor = rng.normal(1.0, 0.025, totals.height)
    out = []
    for (account, act, amount), f in zip(totals.iter_rows(), factor, strict=True):
        if account in exact:
            annual = int(amount)
        else:
            annual = int(round(amount * float(f) / 100_000)) * 100_000
        if annual == 0:
            continue
        whole = annual // 100  # SEK
        monthly = np.full(12, int(whole / 12), dtype=np.int64)
        monthly[11] = whole - 11 * int(whole / 12)
        for m in range(12):
            out.append((f"{year}{m + 1:02d}", account, act, int(monthly[m]) * 100))
    return pl.DataFrame(
        out,
        schema={"period": pl.String, "account": pl.String, "act": pl.String, "amount": pl.Int64},
        orient="row",
    )


def build_year(year: int, scale: float, seed: int, opening: _Opening | None = None) -> YearLedger:
    """Build one year's ledger in memory (``opening`` = the previous year's closing state;
    ``None`` only for the first year, which gets a made-up opening balance sheet)."""
    if opening is None and year != FIRST_YEAR:
        raise ValueError(f"the chain of balances starts in {FIRST_YEAR}")
    book = _Book(year)
    contributions = _members(book, year)
    _state_grants(book, year)
    support = _transition_support(book, year)
    _fees(book, year, scale, _rng(seed, year, 2))
    _agreements(book, year)
    _places(book, year, scale)
    deviations = _homecare(book, year, scale, seed)
    volumes = health_care_volumes(year, scale, seed)
    deviations += _health_care(book, year, volumes)
    items = _items(book, year, scale, _rng(seed, year, 4))
    _admin(book, year, _rng(seed, year, 5))
    _payroll(book, year, _rng(seed, year, 6))
    _financial_and_year_end(book, year, _rng(seed, year, 7))

    entries = pl.concat(book.entries)
    year_end = dt.date(year, 12, 31)
    carry = entries.filter(pl.col("pay_date") > year_end)
    if opening is None:
        # Made-up opening: last year's open items look like this year's closing ones.
        open_items = carry.with_columns(pl.col("pay_date").dt.offset_by("-1y"))
        balances = {a: 0 for a in BALANCE_ACCOUNTS}
        for account, amount in OPENING_STATIC.items():
            balances[account] = amount * 100
        for account, amount in (
            open_items.group_by("account").agg(pl.col("amount").sum()).iter_rows()
        ):
            balances[account] -= int(amount)
        balances["2010"] = -sum(v for a, v in balances.items() if a != "2010")
        opening = _Opening(balances, open_items)
    _settle(book, pl.concat([opening.entries, entries.filter(pl.col("pay_date") <= year_end)]))

    vouchers, rows = _number(book)
    moves = dict(rows.group_by("account").agg(pl.col("amount").sum()).iter_rows())
    ib = {a: int(opening.balances.get(a, 0)) for a in BALANCE_ACCOUNTS}
    ub = {a: ib[a] + int(moves.get(a, 0)) for a in BALANCE_ACCOUNTS}
    res = {a: int(moves[a]) for a, _ in ACCOUNTS if int(a[0]) >= 3 and a in moves}
    return YearLedger(
        year=year,
        vouchers=vouchers,
        rows=rows,
        ib=ib,
        ub=ub,
        res=res,
        budget=_budget(rows, vouchers, year, seed),
        carry=carry,
        volumes=volumes,
        deviations=deviations,
        contributions=contributions,
        transition_support=support,
        items=items,
    )


# --------------------------------------------------------------------------------------------
# Writing SIE
# --------------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sek_expr(column: str) -> pl.Expr:
    a = pl.col(column).abs()
    return pl.concat_str(
        [
            pl.when(pl.col(column) < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (a // 100).cast(pl.String),
            pl.lit("."),
            (a % 100).cast(pl.String).str.zfill(2),
        ]
    )


def _objects_expr() -> pl.Expr:
    def pair(dim: int, column: str) -> pl.Expr:
        return pl.concat_str([pl.lit(f'{dim} "'), pl.col(column), pl.lit('"')])

    inner = pl.concat_str(
        [pair(1, "ansvar"), pair(2, "act"), pair(COUNTERPARTY_DIM, "cp")],
        separator=" ",
        ignore_nulls=True,
    )
    return pl.concat_str([pl.lit("{"), inner, pl.lit("}")])


def _escaped(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
    )


def _voucher_text(ledger: YearLedger) -> str:
    v = ledger.vouchers.with_columns(
        pl.concat_str(
            [
                pl.lit("#VER "),
                pl.col("series"),
                pl.lit(" "),
                pl.col("number").cast(pl.String),
                pl.lit(" "),
                pl.col("date").dt.strftime("%Y%m%d"),
                pl.lit(' "'),
                _escaped("vtext"),
                pl.lit(f'"{EOL}{{{EOL}'),
            ]
        ).alias("head")
    ).select("v", "head")
    r = ledger.rows.with_columns(
        pl.when(pl.col("tdate").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.lit(" "),
                    pl.col("tdate").dt.strftime("%Y%m%d"),
                    pl.lit(' "'),
                    pl.coalesce(_escaped("text"), pl.lit("")),
                    pl.lit('"'),
                    pl.when(pl.col("qty").is_not_null())
                    .then(pl.lit(" ") + pl.col("qty"))
                    .otherwise(pl.lit("")),
                ]
            )
        )
        .otherwise(pl.lit(""))
        .alias("tail"),
        (pl.col("v") != pl.col("v").shift(1)).fill_null(True).alias("first"),
        (pl.col("v") != pl.col("v").shift(-1)).fill_null(True).alias("last"),
    ).join(v, on="v", how="left", maintain_order="left")
    line = pl.concat_str(
        [
            pl.when(pl.col("first")).then(pl.col("head")).otherwise(pl.lit("")),
            pl.lit("#TRANS "),
            pl.col("account"),
            pl.lit(" "),
            _objects_expr(),
            pl.lit(" "),
            _sek_expr("amount"),
            pl.col("tail"),
            pl.when(pl.col("last")).then(pl.lit(f"{EOL}}}")).otherwise(pl.lit("")),
        ]
    )
    return r.select(line.str.join(EOL)).item()


def sie_text(ledger: YearLedger, previous: YearLedger | None) -> str:
    """The whole SIE 4E file of one year as text (to be encoded as CP437)."""
    y = ledger.year
    lines = [
        "#FLAGGA 0",
        f"#PROGRAM {_quote(PROGRAM[0])} {PROGRAM[1]}",
        "#FORMAT PC8",
        f"#GEN {y + 1}0215",
        "#SIETYP 4",
        f"#FNAMN {_quote(COMPANY_NAME)}",
        f"#ORGNR {ORG_NR}",
        f"#RAR 0 {y}0101 {y}1231",
        f"#RAR -1 {y - 1}0101 {y - 1}1231",
        "#VALUTA SEK",
    ]
    for account, name in ACCOUNTS:
        lines.append(f"#KONTO {account} {_quote(name)}")
        lines.append(f"#KTYP {account} {account_type(account)}")
    lines += ['#DIM 1 "Ansvar"', '#DIM 2 "Verksamhet"', f'#DIM {COUNTERPARTY_DIM} "Motpart"']
    lines += [f'#OBJEKT 1 "{code}" {_quote(name)}' for code, name in ANSVAR]
    lines += [f'#OBJEKT 2 "{a.code}" {_quote(a.name)}' for a in ACTIVITIES]
    lines += [
        f'#OBJEKT {COUNTERPARTY_DIM} "{COUNTERPARTY[p.key]}" {_quote(p.name)}'
        for p in prov.PROVIDERS
    ]
    for account in BALANCE_ACCOUNTS:
        lines.append(f"#IB 0 {account} {sek(ledger.ib[account])}")
        lines.append(f"#UB 0 {account} {sek(ledger.ub[account])}")
        if previous is not None:
            lines.append(f"#IB -1 {account} {sek(previous.ib[account])}")
            lines.append(f"#UB -1 {account} {sek(previous.ub[account])}")
    for account, amount in ledger.res.items():
        lines.append(f"#RES 0 {account} {sek(amount)}")
    if previous is not None:
        for account, amount in previous.res.items():
            lines.append(f"#RES -1 {account} {sek(amount)}")
    psaldo = (
        ledger.rows.filter(pl.col("account").str.slice(0, 1).cast(pl.Int32) >= 3)
        .join(ledger.vouchers.select("v", "date"), on="v", how="left")
        .group_by(pl.col("date").dt.strftime("%Y%m").alias("period"), "account", "act")
        .agg(pl.col("amount").sum())
        .sort("period", "account", "act")
    )
    for label, frame in (("#PSALDO", psaldo), ("#PBUDGET", ledger.budget)):
        text = frame.select(
            pl.concat_str(
                [
                    pl.lit(f"{label} 0 "),
                    pl.col("period"),
                    pl.lit(" "),
                    pl.col("account"),
                    pl.lit(' {2 "'),
                    pl.col("act"),
                    pl.lit('"} '),
                    _sek_expr("amount"),
                ]
            ).str.join(EOL)
        ).item()
        if text:
            lines.append(text)
    lines.append(_voucher_text(ledger))
    return EOL.join(lines) + EOL


# --------------------------------------------------------------------------------------------
# Writing the budget file
# --------------------------------------------------------------------------------------------
BUDGET_FILE_YEARS = (2024,)  # the years whose budget is also written as the budget file
BUDGET_DIR = "budget"
BUDGET_HEADER = ("År", "Månad", "Konto", "Ansvar", "Verksamhet", "Belopp")


def write_budget_file(out_dir: Path, ledger: YearLedger) -> list[str]:
    """For a year of ``BUDGET_FILE_YEARS``, write its ``#PBUDGET`` as the controllers' budget
    file ``DIR/budget/budget_<year>.xlsx`` (docs/contracts/budget.md: sheet ``Budget``, row 1
    the header, one row per month, account and activity, ``Ansvar`` empty); return the paths
    written (none for other years)."""
    if ledger.year not in BUDGET_FILE_YEARS:
        return []
    path = Path(out_dir) / BUDGET_DIR / f"budget_{ledger.year}.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ledger.budget.sort("period", "account", "act")
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({"created": dt.datetime(2024, 1, 1), "author": "", "title": "Budget KSON"})
    head = wb.add_format({"bold": True, "bottom": 1})
    text = wb.add_format({"num_format": "@"})
    money = wb.add_format({"num_format": "#,##0.00"})
    ws = wb.add_worksheet("Budget")
    ws.set_column(0, 4, 11)
    ws.set_column(5, 5, 16)
    ws.write_row(0, 0, BUDGET_HEADER, head)
    for r, (period, account, act, amount) in enumerate(lines.iter_rows(), start=1):
        ws.write_number(r, 0, int(period[:4]))
        ws.write_number(r, 1, int(period[4:]))
        ws.write_string(r, 2, account, text)
        ws.write_string(r, 4, act, text)
        ws.write_number(r, 5, amount / 100, money)  # whole kronor in öre: exact as a float
    wb.close()
    return [str(path)]


# --------------------------------------------------------------------------------------------
# Reference seeds
# --------------------------------------------------------------------------------------------
def seed_frames() -> dict[str, pl.DataFrame]:
    """The finance reference tables as frames (all columns text, written as CSV)."""
    chart = pl.DataFrame(
        {
            "account": [a for a, _ in ACCOUNTS],
            "account_name": [n for _, n in ACCOUNTS],
            "account_class": [a[0] for a, _ in ACCOUNTS],
            "account_group": [a[:2] for a, _ in ACCOUNTS],
            "kind": [account_kind(a) for a, _ in ACCOUNTS],
            "account_type": [account_type(a) for a, _ in ACCOUNTS],
        }
    )
    activities = pl.DataFrame(
        {
            "activity_code": [a.code for a in ACTIVITIES],
            "activity_name": [a.name for a in ACTIVITIES],
            "service": [a.service or None for a in ACTIVITIES],
            "activity_group": [a.group for a in ACTIVITIES],
        }
    )
    counterparties = pl.DataFrame(
        {
            "sie_dimension": [str(COUNTERPARTY_DIM)] * len(prov.PROVIDERS),
            "counterparty_object": [COUNTERPARTY[p.key] for p in prov.PROVIDERS],
            "counterparty_name": [p.name for p in prov.PROVIDERS],
            "provider_org_nr": [p.org_nr for p in prov.PROVIDERS],
        }
    )
    rates = pl.DataFrame(
        {
            "service": [r[0] for r in REIMBURSEMENT_RATES],
            "basis": [r[1] for r in REIMBURSEMENT_RATES],
            "valid_from": [r[2] for r in REIMBURSEMENT_RATES],
            "valid_to": [r[3] for r in REIMBURSEMENT_RATES],
            "rate_sek": [f"{r[4]}.00" for r in REIMBURSEMENT_RATES],
        },
        schema={
            name: pl.String for name in ("service", "basis", "valid_from", "valid_to", "rate_sek")
        },
    )
    agreement = pl.DataFrame(
        {
            "member": [m.key for m in MEMBERS],
            "member_name": [m.name for m in MEMBERS],
            "account": [m.account for m in MEMBERS],
            "base_year": [str(BASE_YEAR)] * len(MEMBERS),
            "budget_contribution_sek": [str(m.budget_2021) for m in MEMBERS],
            "added_contribution_sek": [str(m.added) for m in MEMBERS],
            "base_amount_sek": [str(m.base) for m in MEMBERS],
            "last_year": [str(LAST_AGREEMENT_YEAR)] * len(MEMBERS),
            "min_annual_increase_pct": [str(MIN_INCREASE_PCT)] * len(MEMBERS),
        }
    )
    region = MEMBERS[0]
    extra = pl.DataFrame(
        {
            "year": [str(y) for y in POSTPONED_CARE],
            "member": [region.key] * len(POSTPONED_CARE),
            "account": [EXTRA_CONTRIBUTION_ACCOUNT] * len(POSTPONED_CARE),
            "state_grant_share_sek": [str(share) for share, _ in POSTPONED_CARE.values()],
            "contribution_pct": [str(EXTRA_CONTRIBUTION_PCT)] * len(POSTPONED_CARE),
            "cost_responsibility": [POSTPONED_CARE_ANSVAR] * len(POSTPONED_CARE),
        }
    )
    return {
        "chart_of_accounts": chart,
        "activities": activities,
        "counterparty_providers": counterparties,
        "reimbursement_rates": rates,
        "member_contribution_agreement": agreement,
        "extra_member_contribution": extra,
    }


def write_seeds(folder: Path = SEED_DIR) -> list[Path]:
    """Write the finance reference tables as CSV (UTF-8, comma, header row)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in seed_frames().items():
        path = folder / f"{name}.csv"
        frame.write_csv(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def _contribution_summary(years: Iterable[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member in MEMBERS:
        rows = {}
        for year in years:
            amount = member_contribution(member, year)
            minimum = minimum_contribution(member, year)
            row: dict[str, Any] = {
                "sek": amount,
                "minimum_sek": str(minimum.quantize(Decimal("0.01"))),
                "below_minimum_sek": str(
                    max(Decimal(0), minimum - amount).quantize(Decimal("0.01"))
                ),
            }
            if year > BASE_YEAR:
                before = member_contribution(member, year - 1)
                row["increase_pct"] = str(
                    (Decimal(amount - before) * 100 / before).quantize(Decimal("0.01"))
                )
            rows[year] = row
        out[member.key] = {"base_sek": member.base, "years": rows}
    return out


VOLUMES_DIR = "health_care_volumes"


def write_health_care_volumes(out_dir: Path, year: int, volumes: pl.DataFrame) -> Path:
    """Write ``DIR/health_care_volumes/health_care_volumes_<year>.csv`` in the contract's
    format (docs/contracts/health_care_volumes.md): UTF-8, LF, comma, the exact header, hours
    with a decimal point and two decimals."""
    frame = volumes.sort("year", "month", "provider_org_nr", "service").select(
        "year",
        "month",
        "provider_org_nr",
        "service",
        "visits",
        _hundredths(pl.col("hours_x100")).alias("performed_hours"),
    )
    path = Path(out_dir) / VOLUMES_DIR / f"health_care_volumes_{year}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, line_terminator="\n", quote_style="necessary")
    return path


def generate(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    years: Iterable[int] = DEFAULT_YEARS,
) -> dict[str, Any]:
    """Write, per year, ``DIR/sie/kson_<year>.se`` and
    ``DIR/health_care_volumes/health_care_volumes_<year>.csv``, and ``DIR/budget/budget_2024.xlsx``
    when 2024 is generated; return a summary (files, rows, turnover and result per year, the
    deliberate deviations)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    years = sorted({int(y) for y in years})
    if not years or years[0] < FIRST_YEAR:
        raise ValueError(f"years must be {FIRST_YEAR} or later")
    out_dir = Path(out_dir)
    (out_dir / "sie").mkdir(parents=True, exist_ok=True)
    (out_dir / VOLUMES_DIR).mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "out_dir": str(out_dir),
        "scale": scale,
        "seed": seed,
        "years": years,
        "files": [],
        "per_year": {},
        "deviations": {
            "payments": [],
            "member_contributions": _contribution_summary(years),
            "transition_support": None,
        },
    }
    _log(f"out={out_dir} scale={scale} seed={seed} years={years}")
    opening: _Opening | None = None
    previous: YearLedger | None = None
    for year in range(FIRST_YEAR, years[-1] + 1):
        t0 = time.perf_counter()
        ledger = build_year(year, scale, seed, opening)
        t1 = time.perf_counter()
        if year in years:
            path = out_dir / "sie" / f"kson_{year}.se"
            path.write_bytes(sie_text(ledger, previous).encode("cp437"))
            t2 = time.perf_counter()
            summary["files"].append(str(path))
            summary["files"] += write_budget_file(out_dir, ledger)
            summary["files"].append(str(write_health_care_volumes(out_dir, year, ledger.volumes)))
            summary["per_year"][year] = _year_summary(ledger, path)
            summary["deviations"]["payments"] += ledger.deviations
            if ledger.transition_support:
                summary["deviations"]["transition_support"] = ledger.transition_support
            info = summary["per_year"][year]
            _log(
                f"{year}: {info['vouchers']:,} vouchers, {info['transaction_rows']:,} rows, "
                f"costs {info['costs_sek']} SEK, result {info['result_sek']} SEK "
                f"(built {t1 - t0:.1f} s, written {t2 - t1:.1f} s, "
                f"{path.stat().st_size / 1e6:.1f} MB)"
            )
        else:
            _log(f"{year}: built for the opening balances only ({t1 - t0:.1f} s)")
        opening = ledger.next_opening()
        previous = ledger
    for dev in summary["deviations"]["payments"]:
        _log(
            f"deviation: {dev['provider_name']} {dev['service']} {dev['period']}: paid "
            f"{dev['paid_sek']} for {dev['volume']} × {dev['rate_sek']} = {dev['expected_sek']} "
            f"(+{dev['over_sek']} SEK, +{dev['over_pct']} %)"
        )
    for key, info in summary["deviations"]["member_contributions"].items():
        for year, row in info["years"].items():
            if Decimal(row["below_minimum_sek"]) > 0:
                _log(
                    f"deviation: {key} {year}: {row['sek']:,} SEK (+{row['increase_pct']} %), "
                    f"below the agreement's minimum {row['minimum_sek']} by "
                    f"{row['below_minimum_sek']}"
                )
    if summary["deviations"]["transition_support"]:
        ts = summary["deviations"]["transition_support"]
        _log(f"transition support: {ts['total_sek']} SEK on {ts['date']}, series {ts['series']}")
    return summary


def _year_summary(ledger: YearLedger, path: Path) -> dict[str, Any]:
    rows = ledger.rows
    cost_accounts = [a for a, _ in ACCOUNTS if account_type(a) == "K"]
    costs = rows.filter(pl.col("account").is_in(cost_accounts))["amount"].sum()
    by_series = (
        rows.join(ledger.vouchers.select("v", "series"), on="v", how="left")
        .group_by("series")
        .len()
        .sort("series")
    )
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "vouchers": ledger.vouchers.height,
        "transaction_rows": rows.height,
        "rows_by_series": dict(by_series.iter_rows()),
        "per_item_rows": ledger.items,
        "costs_sek": sek(int(costs)),
        "result_sek": sek(-sum(ledger.res.values())),
        "budget_result_sek": sek(-int(ledger.budget["amount"].sum())),
        "contributions_sek": {c["member"]: c["annual_sek"] for c in ledger.contributions},
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m sample_data.ledgers --out DIR [...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.ledgers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--scale", type=float, default=1.0, help="volume factor (1.0 ≈ 500k rows)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--years", type=int, nargs="+", default=list(DEFAULT_YEARS))
    parser.add_argument(
        "--write-seeds",
        type=Path,
        metavar="DIR",
        help=f"also write the finance seeds (repo: {SEED_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    if not (args.out or args.write_seeds):
        parser.error("give --out DIR and/or --write-seeds DIR")
    if args.write_seeds:
        for path in write_seeds(args.write_seeds):
            _log(f"seed -> {path}")
    if args.out:
        t0 = time.perf_counter()
        summary = generate(args.out, scale=args.scale, seed=args.seed, years=args.years)
        _log(f"done in {time.perf_counter() - t0:.1f} s: {len(summary['files'])} files")


if __name__ == "__main__":
    main()
