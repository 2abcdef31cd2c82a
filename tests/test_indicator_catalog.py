"""The indicator catalog (dbt seeds ``indicators/``) is seed 004's table "Indikatorer (budget
2024)": its 20 indicators under the four goal areas, each name as published and each 2024
target; ``tests/data/seed004_indicator_values.csv`` holds the table's 2022 and 2023 values
(what ``marts.indicator_values`` must reproduce on the sample). Read as the session's run
loaded them, whose dbt tests on them passed."""

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED_DIR
from orchestration.resources import dbt_project

REFERENCE_VALUES = Path(__file__).parent / "data" / "seed004_indicator_values.csv"
SEEDS = ("indicator_catalog", "indicator_targets")
DIRECTIONS = ("Öka", "Minska", "Bibehåll")


def number(cell: str) -> Decimal:
    """A figure as the seed prints it ('12 559', '8,2%') as a number."""
    return Decimal(cell.replace(" ", "").replace(",", ".").removesuffix("%"))


@pytest.fixture(scope="module")
def seed_004() -> list[tuple[str, str, list[str]]]:
    """The table "Indikatorer (budget 2024)" of seed 004: (goal area, name, [2022, 2023, 2024
    cells]) per indicator, in order; names and areas without the table's trailing colon."""
    files = sorted((SHARED_DIR / "seeds").glob("004_*.txt"))
    if not files:
        pytest.skip(f"needs seed 004 in {SHARED_DIR / 'seeds'}, which is not beside this clone")
    text = files[0].read_text("utf-8")
    table = text.split("Indikatorer (budget 2024)", 1)[1].strip().split("\n\n", 1)[0]
    rows, area = [], None
    for line in table.splitlines():
        label, *cells = line.split("\t")
        label = label.strip().removesuffix(":")
        if cells == ["2022", "2023", "2024"]:
            area = label
        else:
            assert area and len(cells) == 3, line
            rows.append((area, label, cells))
    return rows


@pytest.fixture(scope="module")
def loaded(full_run) -> dict[str, list[dict]]:
    """The seeds as the session's run loaded them: {seed: rows in order}."""
    workspace, _ = full_run
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        return {
            "indicator_catalog": rows(con, "reference.indicator_catalog ORDER BY sort_order"),
            "indicator_targets": rows(con, "reference.indicator_targets ORDER BY indicator_id"),
        }


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[dict]:
    result = con.execute(f"SELECT * FROM {relation}")
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def reference_values() -> list[dict]:
    with REFERENCE_VALUES.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_the_seeds_dbt_tests_ran_in_the_run_and_passed(full_run):
    _, result = full_run
    manifest = json.loads(dbt_project.manifest_path.read_text("utf-8"))
    expected = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") in {f"seed.kson.{seed}" for seed in SEEDS}
    }
    assert len(expected) == 23
    ran = {
        check.check_name: check.passed
        for check in result.get_asset_check_evaluations()
        if check.asset_key.path[-1] in SEEDS
    }
    assert ran == dict.fromkeys(expected, True)


def test_the_catalog_is_seed_004s_indicator_table(seed_004, loaded):
    catalog = loaded["indicator_catalog"]
    assert len(catalog) == 20
    assert [(row["goal_area"], row["name_sv"]) for row in catalog] == [
        (area, name) for area, name, _ in seed_004
    ]
    assert list(dict.fromkeys(row["goal_area"] for row in catalog)) == [
        "God kvalitet i sammanhållen vård och omsorg",
        "Tillgänglighet för individen",
        "Hälsofrämjande och förebyggande insatser",
        "Innovativa samarbeten som ger samordnings- och effektivitetsvinster",
    ]
    assert [row["indicator_id"] for row in catalog] == [f"I{i:02}" for i in range(1, 21)]


def test_each_2024_target_is_seed_004s(seed_004, loaded):
    targets = {row["indicator_id"]: row for row in loaded["indicator_targets"]}
    ids = [row["indicator_id"] for row in loaded["indicator_catalog"]]
    assert {row["year"] for row in targets.values()} == {2024}
    got = {i: (targets[i]["target_value"], targets[i]["target_direction"]) for i in ids}
    expected = {
        i: (None, cells[2]) if cells[2] in DIRECTIONS else (number(cells[2]), None)
        for i, (_, _, cells) in zip(ids, seed_004, strict=True)
    }
    assert got == expected
    assert got["I07"] == (Decimal("87.00"), None) and got["I13"] == (Decimal("15763.00"), None)
    assert got["I20"] == (None, "Bibehåll")


def test_the_reference_values_are_seed_004s_2022_and_2023_columns(seed_004, loaded):
    ids = [row["indicator_id"] for row in loaded["indicator_catalog"]]
    expected = [
        (i, str(year), cell, "" if cell == "-" else str(number(cell)))
        for i, (_, _, cells) in zip(ids, seed_004, strict=True)
        for year, cell in zip((2022, 2023), cells[:2], strict=True)
    ]
    got = [tuple(row.values()) for row in reference_values()]
    assert got == expected
    assert ("I14", "2022", "3 798", "3798") in got and ("I02", "2023", "6,7%", "6.7") in got


def test_the_catalog_holds_together(loaded):
    """Sources name a mart or a Kolada KPI that exists; a direction target agrees with the
    better direction; a share's target is a share; the decimals are those the board is shown."""
    catalog = {row["indicator_id"]: row for row in loaded["indicator_catalog"]}
    manifest = json.loads(dbt_project.manifest_path.read_text("utf-8"))
    marts = {n["name"] for n in manifest["nodes"].values() if n["schema"] == "marts"}
    for row in catalog.values():
        kind, _, name = row["source"].partition(":")
        assert (kind, bool(name)) in {("mart", True), ("kolada", True), ("manual", False)}, row
        assert kind != "mart" or name in marts, row
        assert kind != "kolada" or name == row["kolada_kpi_id"], row
        assert row["kolada_kpi_id"] is None or re.fullmatch(r"[NU]\d{5}", row["kolada_kpi_id"])
        assert (row["data_year_offset"] == -1) == (row["source"] == "kolada:U20462"), row
    sources = [row["source"] for row in catalog.values()]
    assert sources.count("manual") == 11
    assert sources.count("mart:provider_month") == 4

    for target in loaded["indicator_targets"]:
        indicator = catalog[target["indicator_id"]]
        assert (target["target_value"] is None) != (target["target_direction"] is None), target
        if target["target_direction"] in ("Öka", "Minska"):
            assert indicator["higher_is_better"] == (target["target_direction"] == "Öka")
        if indicator["unit"] == "percent" and target["target_value"] is not None:
            assert 0 <= target["target_value"] <= 100, target

    for value in reference_values():
        if value["as_published"] != "-":
            indicator = catalog[value["indicator_id"]]
            decimals = len(value["as_published"].removesuffix("%").partition(",")[2])
            assert decimals == indicator["decimals"], value
            if value["as_published"].endswith("%"):
                assert indicator["unit"] == "percent", value
