"""marts.kpi_benchmark on the sample (the session's full run): Kolada values of every
municipality against the county, the comparison groups and Riket, checked against the sample
files and, when ``../shared`` is beside the clone, against the reference extract; the sample
regenerates from it byte for byte; docs/kpi_benchmark.md's queries give what it says."""

import csv
import json
import re
import shutil
import statistics
from pathlib import Path

import duckdb
import pytest

from conftest import REPO_ROOT, SAMPLE_DIR, stale_marts
from sample_data import kolada as sample

KOLADA = SAMPLE_DIR / "kolada"
SEEDS = REPO_ROOT / "dbt_project" / "seeds"


@pytest.fixture(scope="module")
def serving(full_run):
    workspace, _ = full_run
    assert "kpi_benchmark" not in stale_marts(workspace)
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        yield con


def sample_values(kpi: str, year: int) -> dict[str, float | None]:
    """{municipality: value (gender T)} of the committed sample files."""
    found = {}
    for path in KOLADA.glob("data_*.json"):
        for entry in json.loads(path.read_text("utf-8"))["values"]:
            if (entry["kpi"], entry["period"]) == (kpi, year):
                [total] = [cell for cell in entry["values"] if cell["gender"] == "T"]
                found[entry["municipality"]] = total["value"]
    return found


def county(values: dict[str, float | None]) -> dict[str, float]:
    return {m: v for m, v in values.items() if m.startswith("01") and v is not None}


def group_members(group_id: str) -> set[str]:
    document = json.loads((KOLADA / "municipality_groups_2024-01-15.json").read_text("utf-8"))
    [group] = [g for g in document["values"] if g["id"] == group_id]
    return {member["member_id"] for member in group["members"]}


def row(con, kpi: str, year: int, municipality: str = "0188") -> dict:
    cursor = con.execute(
        "SELECT * FROM marts.kpi_benchmark WHERE kpi_id = ? AND year = ? AND municipality_id = ?",
        [kpi, year, municipality],
    )
    names = [column[0] for column in cursor.description]
    [values] = cursor.fetchall()
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize(("kpi", "year"), [("N21006", 2022), ("N28013", 2021), ("U23471", 2022)])
def test_norrtalje_against_county_groups_and_riket(serving, kpi, year):
    values = sample_values(kpi, year)
    in_county = county(values)
    got = row(serving, kpi, year)
    assert got["value"] == values["0188"] and got["is_followed_up"] and got["is_in_county"]
    assert got["county_mean"] == pytest.approx(statistics.fmean(in_county.values()))
    assert got["county_median"] == pytest.approx(statistics.median(in_county.values()))
    assert got["county_municipalities"] == len(in_county) == 26
    assert got["county_rank"] == 1 + sum(v > values["0188"] for v in in_county.values())
    for key, group_id in (("elderly_care", "G176641"), ("lss", "G39654")):
        members = [values[m] for m in group_members(group_id) if values.get(m) is not None]
        assert got[f"{key}_group_id"] == group_id
        assert got[f"{key}_group_mean"] == pytest.approx(statistics.fmean(members))
        assert got[f"{key}_group_municipalities"] == len(members) == 7
    assert got["elderly_care_group_title"] == "Liknande kommuner äldreomsorg, Norrtälje, 2022"
    assert got["lss_group_title"] == "Liknande kommuner LSS, Norrtälje, 2022"
    assert got["riket_value"] == values["0000"]


def test_falls_2021_and_a_municipality_outside_the_county(serving):
    falls = row(serving, "U20462", 2021)
    assert (falls["value"], falls["higher_is_better"]) == (3798.1, False)
    gotland = row(serving, "N21006", 2022, "0980")
    assert (gotland["municipality_name"], gotland["is_in_county"]) == ("Gotland", False)
    assert gotland["county_rank"] is None and gotland["county_mean"] is not None


def test_ties_share_the_better_rank(serving):
    """Survey shares are whole per cents: the sample has ties; each shares the better rank."""
    rows = serving.execute(
        "SELECT kpi_id, year, value, county_rank FROM marts.kpi_benchmark "
        "WHERE is_in_county AND value IS NOT NULL"
    ).fetchall()
    by_cell: dict[tuple, list[tuple[float, int]]] = {}
    for kpi, year, value, rank in rows:
        by_cell.setdefault((kpi, year), []).append((value, rank))
    ties = 0
    for cell in by_cell.values():
        for value, rank in cell:
            assert rank == 1 + sum(other > value for other, _ in cell)
            ties += sum(other == value for other, _ in cell) > 1
    assert ties > 100


def test_no_region_riket_or_group_is_a_row(serving):
    ids = {
        i for (i,) in serving.execute("SELECT municipality_id FROM marts.kpi_benchmark").fetchall()
    }
    assert len(ids) == 35 and "0000" not in ids and not any(i.startswith(("G", "00")) for i in ids)


def test_made_up_survey_counts_are_not_benchmarked(serving):
    [(count,)] = serving.execute(
        "SELECT count(*) FROM marts.kpi_benchmark WHERE kpi_id IN "
        "('U23592', 'U23593', 'U23594', 'U23595')"
    ).fetchall()
    assert count == 0


def test_the_docs_queries_give_what_the_docs_show(serving):
    text = (REPO_ROOT / "docs" / "kpi_benchmark.md").read_text("utf-8")
    queries = re.findall(r"```sql\n(.*?)```", text, re.S)
    tables = re.findall(r"\n\|[^\n]*\|\n\|[-|]+\|\n((?:\|[^\n]*\|\n)+)", text)
    assert len(queries) == len(tables) == 2
    for query, table in zip(queries, tables, strict=True):
        shown = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
        got = serving.execute(query).fetchall()
        assert len(got) == len(shown)
        for values, cells in zip(got, shown, strict=True):
            for value, cell in zip(values, cells, strict=True):
                assert str(value).removesuffix(".0") == cell.split(" (")[0].removesuffix(".0")


def test_higher_is_better_agrees_with_the_indicator_catalog():
    def read(path: Path) -> list[dict]:
        with path.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    benchmark = {
        r["kpi_id"]: r["higher_is_better"]
        for r in read(SEEDS / "benchmarks" / "benchmark_kpis.csv")
    }
    catalog = read(SEEDS / "indicators" / "indicator_catalog.csv")
    shared = [r for r in catalog if r["kolada_kpi_id"]]
    assert len(shared) == 5
    for indicator in shared:
        assert benchmark[indicator["kolada_kpi_id"]] == indicator["higher_is_better"], indicator


def test_the_sample_regenerates_from_the_reference(shared_reference, tmp_path):
    out = tmp_path / "kolada"
    out.mkdir()
    for path in [*KOLADA.glob(sample.SURVEY_FILES), KOLADA / sample.EXISTING_METADATA]:
        shutil.copy(path, out)
    written = sample.generate(shared_reference / "kolada", out)
    assert len(written) == 9
    for path in written:
        assert path.read_bytes() == (KOLADA / path.name).read_bytes(), path.name


def test_the_sample_holds_the_reference_values(shared_reference):
    """Every value of the reference extract for 2018–2022 is in the sample as it was, except
    Norrtälje's survey cells (the survey files hold seed 004's)."""
    with (shared_reference / "kolada" / sample.VALUES_CSV).open(encoding="utf-8") as handle:
        reference = [r for r in csv.DictReader(handle) if r["gender"] == "T"]
    n21006 = {r["municipality_id"]: float(r["value"]) for r in reference
              if (r["kpi"], r["year"]) == ("N21006", "2022") and r["value"]}  # fmt: skip
    assert county(sample_values("N21006", 2022)) == county(n21006)
    assert statistics.fmean(county(n21006).values()) == pytest.approx(257758.5886, abs=1e-3)
