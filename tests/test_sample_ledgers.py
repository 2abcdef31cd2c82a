"""The sample SIE 4 ledgers: determinism, SIE rules, registers and the deliberate deviations.

The files are read with a small parser written here (not the generator's internals); the
expected figures come from the finance seeds, the provider sample's monthly-report figures and
the ``health_care_volumes_<year>.csv`` files. ``ingest.sie.read`` is used as a second reader
when it imports.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from sample_data import ledgers as gen
from sample_data import providers as provider_gen

REPO = Path(__file__).resolve().parents[1]
FINANCE_SEEDS = REPO / "dbt_project" / "seeds" / "finance"
SCALE = 0.01
SEED = gen.DEFAULT_SEED
YEARS = (2021, 2022, 2023, 2024)
CENT = Decimal("0.01")

# The deliberate deviations as documented in sample_data/ledgers.py.
PAYMENT_DEVIATIONS = {
    ("556781-7142", "hemtjanst", "2023-05"): Decimal("12.0"),  # Vårdhjälpen Rimbo AB
    ("556998-6457", "hemtjanst", "2024-10"): Decimal("8.5"),  # Björkens Vård och Omsorg AB
    ("556728-9045", "hemsjukvard", "2024-04"): Decimal("15.0"),  # Omsorg i Norrtälje AB
}
CONTRIBUTIONS = {
    "3331": {2021: 1_700_000_000, 2022: 1_751_000_000, 2023: 1_821_040_000, 2024: 1_912_092_000},
    "3341": {2021: 1_430_000_000, 2022: 1_467_180_000, 2023: 1_481_851_800, 2024: 1_563_353_649},
}
TRANSITION_SUPPORT = Decimal("5000000.00")
ACTIVITY_OF_SERVICE = {"hemtjanst": "511", "hemsjukvard": "512", "hemrehab": "513"}


# ------------------------------------------------------------------------------ a tiny reader
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\{([^}]*)\}|(\S+)')


def _tokens(text: str) -> list[object]:
    out: list[object] = []
    for m in TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        elif m.group(2) is not None:
            inner = [str(t) for t in _tokens(m.group(2))]
            out.append({int(inner[i]): inner[i + 1] for i in range(0, len(inner), 2)})
        else:
            out.append(m.group(3))
    return out


@dataclass
class Row:
    account: str
    objects: dict[int, str]
    amount: Decimal
    date: str | None
    text: str | None
    quantity: Decimal | None


@dataclass
class Voucher:
    series: str
    number: int
    date: str
    text: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Sie:
    records: dict[str, list[list[object]]]
    vouchers: list[Voucher]

    def balances(self, label: str, year_index: str = "0") -> dict[str, Decimal]:
        return {
            str(r[1]): Decimal(str(r[2])) for r in self.records.get(label, []) if r[0] == year_index
        }

    def rows(self) -> list[tuple[Voucher, Row]]:
        return [(v, r) for v in self.vouchers for r in v.rows]


def parse_sie(path: Path) -> Sie:
    text = path.read_bytes().decode("cp437")
    records: dict[str, list[list[object]]] = defaultdict(list)
    vouchers: list[Voucher] = []
    current: Voucher | None = None
    for line in text.split("\r\n"):
        if not line or line in ("{", "}"):
            continue
        label, _, rest = line.partition(" ")
        fields = _tokens(rest)
        if label == "#VER":
            current = Voucher(str(fields[0]), int(str(fields[1])), str(fields[2]), str(fields[3]))
            vouchers.append(current)
        elif label == "#TRANS":
            assert current is not None
            extra = fields[3:]
            current.rows.append(
                Row(
                    account=str(fields[0]),
                    objects=fields[1],  # type: ignore[arg-type]
                    amount=Decimal(str(fields[2])),
                    date=str(extra[0]) if len(extra) > 0 else None,
                    text=str(extra[1]) if len(extra) > 1 else None,
                    quantity=Decimal(str(extra[2])) if len(extra) > 2 else None,
                )
            )
        else:
            records[label].append(fields)
    return Sie(dict(records), vouchers)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ledgers")
    return out, gen.generate(out, scale=SCALE, seed=SEED, years=YEARS)


@pytest.fixture(scope="module")
def parsed(sample) -> dict[int, Sie]:
    out, _ = sample
    return {year: parse_sie(out / "sie" / f"kson_{year}.se") for year in YEARS}


@pytest.fixture(scope="module")
def seeds() -> dict[str, list[dict[str, str]]]:
    return {path.stem: read_csv(path) for path in sorted(FINANCE_SEEDS.glob("*.csv"))}


# ------------------------------------------------------------------------------ the tests
def test_same_inputs_give_the_same_bytes(sample, tmp_path):
    out, _ = sample
    again = tmp_path / "again"
    gen.generate(again, scale=SCALE, seed=SEED, years=YEARS)
    alone = tmp_path / "alone"
    gen.generate(alone, scale=SCALE, seed=SEED, years=[2024])
    for year in YEARS:
        name = f"sie/kson_{year}.se"
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    # A later year alone is the same file: its balances are built from 2021 on either way.
    assert (out / "sie/kson_2024.se").read_bytes() == (alone / "sie/kson_2024.se").read_bytes()
    for year in YEARS:
        volumes = f"health_care_volumes/health_care_volumes_{year}.csv"
        assert (out / volumes).read_bytes() == (again / volumes).read_bytes(), volumes
    volumes = "health_care_volumes/health_care_volumes_2024.csv"
    assert (out / volumes).read_bytes() == (alone / volumes).read_bytes()


def test_committed_seeds_are_what_the_code_writes(tmp_path):
    written = gen.write_seeds(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in FINANCE_SEEDS.glob("*.csv"))
    for path in written:
        assert path.read_bytes() == (FINANCE_SEEDS / path.name).read_bytes(), path.name


def test_header_and_cp437_encoding(sample, parsed):
    out, _ = sample
    raw = (out / "sie" / "kson_2024.se").read_bytes()
    text = raw.decode("cp437")
    assert text.encode("cp437") == raw
    assert b"\xc3" not in raw  # no UTF-8 sequences for å ä ö
    assert "Kommunalförbundet Sjukvård och omsorg i Norrtälje".encode("cp437") in raw
    assert b"Kommunalf\x94rbundet Sjukv\x86rd" in raw  # ö = 0x94, å = 0x86 in CP437
    assert "Älmsta Omsorg och Service AB".encode("cp437") in raw  # Ä = 0x8E
    head = text.split("\r\n")[:10]
    assert head[0] == "#FLAGGA 0"
    for record in ("#FORMAT PC8", "#SIETYP 4", "#GEN 20250215", "#RAR 0 20240101 20241231"):
        assert record in head
    sie = parsed[2024]
    assert sie.records["#FNAMN"] == [["Kommunalförbundet Sjukvård och omsorg i Norrtälje"]]
    assert sie.records["#PROGRAM"][0][0]
    assert provider_gen.is_valid_org_nr(str(sie.records["#ORGNR"][0][0]))
    assert ["-1", "20230101", "20231231"] in sie.records["#RAR"]
    dims = {str(r[0]): r[1] for r in sie.records["#DIM"]}
    assert dims == {"1": "Ansvar", "2": "Verksamhet", "6": "Motpart"}
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")


def test_every_voucher_balances_and_amounts_have_two_decimals(sample, parsed):
    out, _ = sample
    amount = re.compile(r"^#TRANS \S+ \{[^}]*\} -?\d+\.\d\d( |$)")
    for year, sie in parsed.items():
        assert sie.vouchers
        for v in sie.vouchers:
            assert v.rows, (v.series, v.number)
            assert sum(r.amount for r in v.rows) == 0, (year, v.series, v.number)
        lines = (out / "sie" / f"kson_{year}.se").read_bytes().decode("cp437").split("\r\n")
        trans = [line for line in lines if line.startswith("#TRANS")]
        assert all(amount.match(line) for line in trans)
        numbers = defaultdict(list)
        for v in sie.vouchers:
            numbers[v.series].append(v.number)
            assert v.date[:4] == str(year)
        for series, seq in numbers.items():
            assert seq == list(range(1, len(seq) + 1)), series


def test_opening_plus_transactions_is_closing_and_years_chain(parsed):
    previous = None
    for year in YEARS:
        sie = parsed[year]
        ib, ub, res = sie.balances("#IB"), sie.balances("#UB"), sie.balances("#RES")
        moved: dict[str, Decimal] = defaultdict(Decimal)
        for _, row in sie.rows():
            moved[row.account] += row.amount
        assert set(ib) == set(ub)
        for account in ib:
            assert account[0] in "12"
            assert ib[account] + moved[account] == ub[account], (year, account)
        assert sum(ib.values()) == 0
        result_accounts = {a for a in moved if a[0] not in "12"}
        assert res == {a: moved[a] for a in result_accounts if moved[a] != 0}
        assert sum(ub.values()) == -sum(res.values())
        if previous is not None:
            p_ub, p_res = previous.balances("#UB"), previous.balances("#RES")
            for account in ib:
                expected = p_ub[account] + (sum(p_res.values()) if account == "2010" else 0)
                assert ib[account] == expected, (year, account)
            assert sie.balances("#UB", "-1") == p_ub
            assert sie.balances("#RES", "-1") == p_res
        previous = sie


def test_period_balances_match_the_vouchers_and_budget_covers_them(parsed):
    for year, sie in parsed.items():
        moved: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for v, row in sie.rows():
            if row.account[0] in "12":
                continue
            assert 2 in row.objects, (year, v.series, v.number, row.account)
            moved[(v.date[:6], row.account, row.objects[2])] += row.amount
        psaldo = {
            (str(r[1]), str(r[2]), r[3][2]): Decimal(str(r[4]))  # type: ignore[index]
            for r in sie.records["#PSALDO"]
        }
        assert psaldo == {k: a for k, a in moved.items() if a != 0}
        budget = defaultdict(Decimal)
        periods = set()
        for r in sie.records["#PBUDGET"]:
            assert r[0] == "0"
            periods.add(str(r[1]))
            budget[(str(r[2]), r[3][2])] += Decimal(str(r[4]))  # type: ignore[index]
        assert periods == {f"{year}{m:02d}" for m in range(1, 13)}
        for account, amounts in CONTRIBUTIONS.items():  # budgeted exactly as agreed
            assert budget[(account, "990")] == -amounts[year]
        assert ("4560", "512") not in budget  # the transition support was not budgeted


def test_accounts_activities_and_counterparties_are_in_the_registers(parsed, seeds):
    chart = {r["account"]: r for r in seeds["chart_of_accounts"]}
    activities = {r["activity_code"]: r for r in seeds["activities"]}
    mapping = {r["counterparty_object"]: r for r in seeds["counterparty_providers"]}
    providers = {r["org_nr"] for r in read_csv(REPO / "dbt_project/seeds/providers.csv")}
    families = {
        r["service_family"] for r in read_csv(REPO / "dbt_project/seeds/contract_areas.csv")
    }
    for row in chart.values():
        assert row["account_group"] == row["account"][:2]
        assert row["account_class"] == row["account"][0]
    assert any(a.startswith("46") for a in chart)
    assert {a["service"] for a in activities.values() if a["service"]} <= families
    assert {r["provider_org_nr"] for r in mapping.values()} <= providers
    for year, sie in parsed.items():
        declared = {str(r[0]): r[1] for r in sie.records["#KONTO"]}
        ktyp = {str(r[0]): r[1] for r in sie.records["#KTYP"]}
        assert set(declared) <= set(chart)
        for account, name in declared.items():
            assert name == chart[account]["account_name"]
            assert ktyp[account] == chart[account]["account_type"]
        objects = {(str(r[0]), str(r[1])): r[2] for r in sie.records["#OBJEKT"]}
        for (dim, obj), name in objects.items():
            if dim == "2":
                assert obj in activities and name == activities[obj]["activity_name"]
            if dim == "6":
                assert obj in mapping and name == mapping[obj]["counterparty_name"]
        for v, row in sie.rows():
            assert row.account in declared, (year, row.account)
            assert all((str(d), o) in objects for d, o in row.objects.items())
            if row.account.startswith("46"):  # purchases from care providers
                assert 6 in row.objects, (year, v.series, v.number)
            if 6 in row.objects:
                assert mapping[row.objects[6]]["provider_org_nr"] in providers


def test_member_contributions_and_the_under_indexed_year(parsed, seeds):
    agreement = {r["account"]: r for r in seeds["member_contribution_agreement"]}
    region = agreement["3331"]
    assert int(region["base_amount_sek"]) == int(region["budget_contribution_sek"]) + 55_000_000
    for account, amounts in CONTRIBUTIONS.items():
        terms = agreement[account]
        base = Decimal(terms["base_amount_sek"])
        minimum_pct = Decimal(terms["min_annual_increase_pct"])
        assert terms["base_year"] == "2021" and amounts[2021] == base
        for year in YEARS:
            credits = [
                (v, r) for v, r in parsed[year].rows() if r.account == account and r.amount < 0
            ]
            assert len(credits) == 12  # booked monthly
            assert {v.series for v, _ in credits} == {"M"}
            assert -sum(r.amount for _, r in credits) == amounts[year]
            if year > 2021:
                pct = Decimal(amounts[year] - amounts[year - 1]) * 100 / amounts[year - 1]
                minimum = base * (1 + minimum_pct / 100) ** (year - 2021)
                if account == "3341" and year == 2023:  # the deliberate deviation
                    assert pct.quantize(CENT) == Decimal("1.00")
                    assert minimum - amounts[year] == Decimal("20541950")
                else:
                    assert pct >= minimum_pct, (account, year)
                    assert amounts[year] >= minimum, (account, year)
    assert {terms["last_year"] for terms in agreement.values()} == {"2023"}  # 2021-2023


def test_extra_region_contribution_and_the_costs_booked_for_it(parsed, seeds):
    """Seed 000, point 6: 2.6 % of the Region's share of the state grant for postponed care,
    booked on 3332 in 2021 and 2022; the costs it pays for on ansvar 410 (not scaled)."""
    extra = {int(r["year"]): r for r in seeds["extra_member_contribution"]}
    assert set(extra) == {2021, 2022}
    for year in YEARS:
        booked = -sum(r.amount for _, r in parsed[year].rows() if r.account == "3332")
        costs = sum(
            r.amount
            for _, r in parsed[year].rows()
            if r.objects.get(1) == "410" and r.account[0] in "4567"
        )
        if year in extra:
            share, pct = Decimal(extra[year]["state_grant_share_sek"]), Decimal("2.6")
            assert Decimal(extra[year]["contribution_pct"]) == pct
            assert booked == share * pct / 100
            assert costs == {2021: Decimal("11900000"), 2022: Decimal("9150000")}[year]
        else:
            assert booked == costs == 0


def _rate(rates: list[dict[str, str]], service: str, period: str) -> tuple[str, Decimal]:
    day = f"{period}-01"
    hits = [
        r
        for r in rates
        if r["service"] == service
        and r["valid_from"] <= day
        and (not r["valid_to"] or day <= r["valid_to"])
    ]
    assert len(hits) == 1, (service, period)
    return hits[0]["basis"], Decimal(hits[0]["rate_sek"])


def _paid(parsed: dict[int, Sie], seeds, activity: str) -> dict[tuple[str, str], Decimal]:
    org = {r["counterparty_object"]: r["provider_org_nr"] for r in seeds["counterparty_providers"]}
    paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for sie in parsed.values():
        for v, row in sie.rows():
            if row.account.startswith("46") and row.objects.get(2) == activity:
                period = f"{v.date[:4]}-{v.date[4:6]}"
                paid[(org[row.objects[6]], period)] += row.amount
    return paid


def _check_deviations(paid, expected, service: str) -> int:
    assert set(paid) == set(expected)
    found = 0
    for (org_nr, period), amount in expected.items():
        pct = PAYMENT_DEVIATIONS.get((org_nr, service, period))
        if pct is None:
            assert paid[(org_nr, period)] == amount, (service, org_nr, period)
        else:
            over = (amount * (1 + pct / 100)).quantize(CENT, rounding=ROUND_HALF_UP)
            assert paid[(org_nr, period)] == over, (service, org_nr, period)
            found += 1
    return found


def test_home_care_payments_are_performed_hours_times_rate_but_two(parsed, seeds):
    rates = seeds["reimbursement_rates"]
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for year in YEARS:
        _, reports = provider_gen._homecare_year(year, SCALE, SEED)
        for row in reports.filter(area_code="HTJ").iter_rows(named=True):
            period = f"{year}-{row['month']:02d}"
            basis, rate = _rate(rates, "hemtjanst", period)
            assert basis == "per_performed_hour"
            org_nr = provider_gen.PROVIDER_BY_KEY[row["provider"]].org_nr
            expected[(org_nr, period)] += Decimal(f"{row['performed_hours']:.2f}") * rate
    assert _check_deviations(_paid(parsed, seeds, "511"), expected, "hemtjanst") == 2


def test_home_health_care_paid_per_visit_then_per_hour_but_one(sample, parsed, seeds):
    out, _ = sample
    rates = seeds["reimbursement_rates"]
    volumes = [
        row
        for year in YEARS
        for row in read_csv(out / "health_care_volumes" / f"health_care_volumes_{year}.csv")
    ]
    assert list(volumes[0]) == [
        "year",
        "month",
        "provider_org_nr",
        "service",
        "visits",
        "performed_hours",
    ]
    found = 0
    for service in ("hemsjukvard", "hemrehab"):
        expected: dict[tuple[str, str], Decimal] = {}
        for r in volumes:
            if r["service"] != service:
                continue
            period = f"{r['year']}-{int(r['month']):02d}"
            basis, rate = _rate(rates, service, period)
            assert basis == ("per_visit" if period < "2024-02" else "per_performed_hour")
            volume = Decimal(r["visits"] if basis == "per_visit" else r["performed_hours"])
            expected[(r["provider_org_nr"], period)] = volume * rate
        found += _check_deviations(
            _paid(parsed, seeds, ACTIVITY_OF_SERVICE[service]), expected, service
        )
    assert found == 1


def test_summary_lists_the_deviations_with_their_figures(sample):
    _, summary = sample
    listed = {
        (d["provider_org_nr"], d["service"], d["period"]): d
        for d in summary["deviations"]["payments"]
    }
    assert set(listed) == set(PAYMENT_DEVIATIONS)
    for key, d in listed.items():
        expected, paid = Decimal(d["expected_sek"]), Decimal(d["paid_sek"])
        assert paid == (expected * (1 + PAYMENT_DEVIATIONS[key] / 100)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        assert Decimal(d["over_sek"]) == paid - expected
        assert Decimal(d["over_pct"]) == PAYMENT_DEVIATIONS[key].quantize(CENT)
    contributions = summary["deviations"]["member_contributions"]["norrtalje_kommun"]["years"]
    assert contributions[2023]["increase_pct"] == "1.00"
    assert contributions[2023]["below_minimum_sek"] == "20541950.00"
    assert contributions[2024]["below_minimum_sek"] == "0.00"
    assert summary["deviations"]["transition_support"]["total_sek"] == "5000000.00"


def test_transition_support_is_booked_apart(parsed, seeds):
    bhsv_hreh = {
        provider_gen.PROVIDER_BY_KEY[k].org_nr
        for code in ("BHSV", "HREH")
        for k in provider_gen.AREA_BY_CODE[code].providers
    }
    org = {r["counterparty_object"]: r["provider_org_nr"] for r in seeds["counterparty_providers"]}
    for year, sie in parsed.items():
        support = [(v, r) for v, r in sie.rows() if r.account == "4560"]
        if year != 2024:
            assert not support and not [v for v in sie.vouchers if v.series == "OS"]
            continue
        assert sum(r.amount for _, r in support) == TRANSITION_SUPPORT
        assert {v.series for v, _ in support} == {"OS"}
        assert {v.date for v, _ in support} == {"20241015"}
        assert {r.text for _, r in support} == {"Omställningsstöd kundval 2024"}
        assert {org[r.objects[6]] for _, r in support} <= bhsv_hreh
        grant = [r for v, r in sie.rows() if v.series == "OS" and r.account == "3311"]
        assert sum(r.amount for r in grant) == -TRANSITION_SUPPORT


def test_no_personal_identity_numbers_in_texts(parsed):
    pii = pytest.importorskip("ingest.pii")
    for sie in parsed.values():
        texts = {v.text for v in sie.vouchers} | {r.text or "" for _, r in sie.rows()}
        assert not [t for t in texts if pii.contains_personnummer(t)]


def test_summary_counts_match_the_files(sample, parsed):
    _, summary = sample
    for year, sie in parsed.items():
        info = summary["per_year"][year]
        assert info["vouchers"] == len(sie.vouchers)
        assert info["transaction_rows"] == sum(len(v.rows) for v in sie.vouchers)
        assert sum(info["rows_by_series"].values()) == info["transaction_rows"]
        # most rows are purchase invoices (series LF), even at this small scale
        assert info["rows_by_series"]["LF"] > info["transaction_rows"] / 2


def test_ingest_reader_accepts_the_files(sample):
    sie_reader = pytest.importorskip("ingest.sie")
    out, _ = sample
    for year in YEARS:
        result = sie_reader.read(out / "sie" / f"kson_{year}.se")
        assert result.ok, [e.rule for e in result.errors][:5]
        info = sie_reader.summary(result)
        assert info["all_vouchers_balance"] is True
        assert info["encoding"] == "cp437"
