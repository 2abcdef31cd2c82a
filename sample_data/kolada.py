"""The Kolada benchmark sample: real values from ``../shared/reference/kolada/`` as v3 responses.

Run once; its output in ``data/sample/kolada/`` is committed (the repository works without
``../shared``; ``tests/test_kpi_benchmark.py`` regenerates and compares when it is there)::

    python -m sample_data.kolada [--reference ../shared/reference/kolada] [--out data/sample/kolada]

What is written (nothing made up; values and titles as Kolada published them):

- ``data_stockholm_county_groups_<set>_2018-2022_part<n>.json``: ``/v3/data`` responses for
  2018–2022 of the 36 areas of the reference extract (the 26 municipalities of Stockholm
  county, Riket ``0000`` and the members of Norrtälje's *liknande kommuner* groups), at most
  25 municipality ids per call (Kolada's limit), for three KPI sets: ``costs`` (the N KPIs),
  ``survey`` (the user survey) and ``other`` (U20462 falls, staff continuity, waiting time, LSS
  care plans). Gender ``T`` everywhere, ``K``/``M`` where the extract has them; an empty cell
  is ``"value": null, "count": 0``. Norrtälje's values of the KPIs that the survey files
  (``data_*_0188_2020-2023*.json``) carry are left out: those files hold the figures the board
  was shown (seed 004), and each cell comes from one file.
- ``kpi_benchmarks_metadata.json``: ``/v3/kpi`` metadata of those KPIs not in
  ``kpi_U21463-U23595_metadata.json``.
- ``municipality.json``: ``/v3/municipality`` (all 312 municipalities and regions).
- ``municipality_groups_2024-01-15.json``: ``/v3/municipality_groups`` as fetched on
  2024-01-15 (pykolada's snapshot; membership 2022), the groups that name Norrtälje and G33612.
"""

from __future__ import annotations

import argparse
import csv
import json
from itertools import groupby
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "kolada"
OUT = REPO_ROOT / "data" / "sample" / "kolada"

VALUES_CSV = "kolada_values_2018_2022_from_ddf_dump.csv"
METADATA = "kpi_metadata_selected__v3_2026-03__from_rKolada_sysdata.json"
GROUPS = "municipality_groups_norrtalje_3_snapshots.json"
GROUPS_SNAPSHOT = "a_v2_2024-01_pykolada"
GROUPS_FETCHED_ON = "2024-01-15"  # pykolada's commit b2a77fb
MUNICIPALITIES = "pykolada__data__municipality.json"
EXISTING_METADATA = "kpi_U21463-U23595_metadata.json"
SURVEY_FILES = "data_*_0188_2020-2023*.json"
NORRTALJE = "0188"
MAX_IDS = 25  # Kolada's limit of ids in one call
GENDERS = ("K", "M", "T")


def _kpi_set(kpi: str) -> str:
    if kpi.startswith("N"):
        return "costs"
    return "survey" if kpi.startswith(("U21", "U23")) and kpi != "U23401" else "other"


def _response(entries: list[str]) -> str:
    """A v3 response, one entry per line (Kolada answers on one line; this diffs better)."""
    body = ",\n".join(entries)
    tail = f'"count":{len(entries)},"next_url":null,"previous_url":null'
    return f'{{"values":[\n{body}\n],{tail}}}\n'


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _survey_kpis(out: Path) -> set[str]:
    """The KPIs Norrtälje's survey files carry (their values stay the only ones for 0188)."""
    return {
        entry["kpi"]
        for path in sorted(out.glob(SURVEY_FILES))
        for entry in json.loads(path.read_text("utf-8"))["values"]
    }


def generate(reference: Path = REFERENCE, out: Path = OUT) -> list[Path]:
    """Write the sample files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    skip = _survey_kpis(out)
    with (reference / VALUES_CSV).open(encoding="utf-8", newline="") as handle:
        rows = [
            row
            for row in csv.DictReader(handle)
            if not (row["municipality_id"] == NORRTALJE and row["kpi"] in skip)
        ]
    areas = sorted({row["municipality_id"] for row in rows})
    chunks = [areas[i : i + MAX_IDS] for i in range(0, len(areas), MAX_IDS)]
    written = []

    def key(row: dict) -> tuple:
        return (_kpi_set(row["kpi"]), row["kpi"], row["municipality_id"], int(row["year"]))

    entries: dict[tuple[str, int], list[str]] = {}
    for (kpi_set, kpi, area, year), cells in groupby(sorted(rows, key=key), key=key):
        by_gender = {cell["gender"]: cell["value"] for cell in cells}
        values = [
            {
                "gender": gender,
                "count": 0 if by_gender[gender] == "" else 1,
                "status": "",
                "value": None if by_gender[gender] == "" else float(by_gender[gender]),
            }
            for gender in GENDERS
            if gender in by_gender
        ]
        part = next(n for n, chunk in enumerate(chunks, 1) if area in chunk)
        entry = {"values": values, "kpi": kpi, "period": year, "municipality": area}
        entries.setdefault((kpi_set, part), []).append(_dump(entry))
    for (kpi_set, part), lines in sorted(entries.items()):
        path = out / f"data_stockholm_county_groups_{kpi_set}_2018-2022_part{part}.json"
        path.write_text(_response(lines), encoding="utf-8")
        written.append(path)

    have = {v["id"] for v in json.loads((out / EXISTING_METADATA).read_text("utf-8"))["values"]}
    wanted = {row["kpi"] for row in rows} - have
    metadata = json.loads((reference / METADATA).read_text("utf-8"))["values"]
    kpis = sorted((v for v in metadata if v["id"] in wanted), key=lambda v: v["id"])
    assert {v["id"] for v in kpis} == wanted, wanted - {v["id"] for v in kpis}
    written.append(out / "kpi_benchmarks_metadata.json")
    written[-1].write_text(_response([_dump(v) for v in kpis]), encoding="utf-8")

    municipalities = json.loads((reference / MUNICIPALITIES).read_text("utf-8"))
    written.append(out / "municipality.json")
    written[-1].write_text(_response([_dump(m) for m in municipalities]), encoding="utf-8")

    groups = json.loads((reference / GROUPS).read_text("utf-8"))[GROUPS_SNAPSHOT]
    written.append(out / f"municipality_groups_{GROUPS_FETCHED_ON}.json")
    written[-1].write_text(_response([_dump(g) for g in groups]), encoding="utf-8")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for path in generate(args.reference, args.out):
        print(path)


if __name__ == "__main__":
    main()
