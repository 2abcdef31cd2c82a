"""Benchmark: the home-care visit path through the real pipeline, against DuckDB alone.

For each scale (1 = Norrtälje, ~1 M visits a year; 10 = ~10 M) it generates the years of
visit logs asked for (default four; the last one without its December) and measures, in fresh
processes, three runs of ``kson run`` on one warehouse, each beside its floor:

- **full**: the first run, on those years (ingest, dbt build + tests, expectations,
  publish); floor: DuckDB alone reads the same CSVs and computes performed hours per provider
  and month (what the marts need from the visits);
- **month**: one new monthly file (``visits_<last>-12.csv``) into that warehouse; floor: the
  same query on that file alone;
- **no-op**: nothing new; floor: DuckDB opens the warehouse and reads the load log.

It prints wall time, peak RSS of the whole process tree (sampled from /proc every 20 ms), the
pipeline's per-stage times and the ratio to the floor; after the last scale, the marginal cost
of the visits (largest − smallest scale) against the floor's, and the fixed cost (the full run
extrapolated to no visits). Run: ``make bench`` (not part of ``make test``). Usage:
``python -m benchmarks.visit_path [--scales 1 10] [--years 2021 2022 2023 2024]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import REPO_ROOT, Measurement, measure

BIN = Path(sys.executable).parent

FLOOR_SQL = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
    SELECT provider_org_nr, date_trunc('month', planned_start) AS month,
           sum(epoch(actual_end - actual_start)) / 3600.0 AS performed_hours, count(*) AS visits
    FROM read_csv(?, header = true, columns = {
        'visit_id': 'VARCHAR', 'provider_org_nr': 'VARCHAR', 'unit_id': 'VARCHAR',
        'user_key': 'VARCHAR', 'staff_key': 'VARCHAR', 'planned_start': 'TIMESTAMP',
        'planned_minutes': 'INTEGER', 'actual_start': 'TIMESTAMP', 'actual_end': 'TIMESTAMP',
        'service_type': 'VARCHAR'})
    GROUP BY ALL''', [sys.argv[1:]]).fetchall()
print(sum(r[3] for r in rows), 'visits in', len(rows), 'provider-months')
"""


NOOP_FLOOR_SQL = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute('SELECT count(*), max(loaded_at) FROM raw.load_log').fetchall())
"""


def bench(scale: float, years: list[int], work: Path) -> dict[str, Measurement]:
    sample = work / f"sample_{scale:g}"
    print(f"\n== scale {scale:g}: generating {len(years)} years of visit logs ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "sample_data.providers", "--out", str(sample)]
        + ["--scale", str(scale), "--years", *map(str, years)],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    landing = work / f"landing_{scale:g}"
    folder = landing / "visit_logs"
    folder.mkdir(parents=True)
    for year in years[:-1]:
        os.link(sample / "visit_logs" / f"visits_{year}.csv", folder / f"visits_{year}.csv")
    last = years[-1]
    month = sample / f"visits_{last}-12.csv"  # landed after the full run
    split_december(sample / "visit_logs" / f"visits_{last}.csv", folder, month)
    # The survey sample too: the survey mart's suite does not publish an empty mart.
    shutil.copytree(REPO_ROOT / "data" / "sample" / "kolada", landing / "kolada")
    full_csvs = sorted(str(path) for path in folder.glob("*.csv"))
    size = sum(Path(path).stat().st_size for path in full_csvs)
    print(f"   {size / 1e6:,.0f} MB CSV, then {month.stat().st_size / 1e6:,.0f} MB", flush=True)

    warehouse = work / f"warehouse_{scale:g}" / "kson.duckdb"
    env = {
        **os.environ,
        "KSON_LANDING_DIR": str(landing),
        "KSON_WAREHOUSE": str(warehouse),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }
    (work / "dagster_home").mkdir(exist_ok=True)
    floor = measure([sys.executable, "-c", FLOOR_SQL, *full_csvs], env)
    pipeline = measure([str(BIN / "kson"), "run"], env)
    visits = floor.output.strip().splitlines()[-1].split()[0]
    print(f"   visits:   {int(visits):,} ({len(years)} year(s) but a month)")
    show("floor:   ", "pipeline:", floor, pipeline)

    os.link(month, folder / month.name)
    month_floor = measure([sys.executable, "-c", FLOOR_SQL, str(folder / month.name)], env)
    month_run = measure([str(BIN / "kson"), "run"], env)
    print("   one new month:")
    show("  floor:   ", "  pipeline:", month_floor, month_run)

    build_db = str(warehouse.with_name("kson_build.duckdb"))
    noop_floor = measure([sys.executable, "-c", NOOP_FLOOR_SQL, build_db], env)
    noop_run = measure([str(BIN / "kson"), "run"], env)
    print("   nothing new:")
    show("  floor:   ", "  pipeline:", noop_floor, noop_run)
    print(f"   month / full run: {month_run.wall_s / pipeline.wall_s:.2f} (goal ≤ 0.25)")
    return {"floor": floor, "pipeline": pipeline}


def split_december(csv: Path, folder: Path, month: Path) -> None:
    """The year's file without December into ``folder``, its December (and header) as
    ``month``; the generator writes rows in planned_start order."""
    december = f",{csv.stem[-4:]}-12-".encode()
    with csv.open("rb") as source, (folder / csv.name).open("wb") as year:
        header = source.readline()
        year.write(header)
        with month.open("wb") as out:
            out.write(header)
            target = year
            for line in source:
                if target is year and december in line:
                    target = out
                target.write(line)


def show(floor_label: str, pipeline_label: str, floor: Measurement, run: Measurement) -> None:
    stages = re.search(r"time per stage: (.*)", run.output)
    print(
        f"   {floor_label} {floor.wall_s:6.1f} s wall, peak RSS {floor.peak_rss_mb:6.0f} MB "
        "(DuckDB alone)"
    )
    print(
        f"   {pipeline_label} {run.wall_s:6.1f} s wall, peak RSS {run.peak_rss_mb:6.0f} MB "
        "(kson run)"
    )
    print(f"   stages:   {stages.group(1) if stages else '?'}")
    print(
        f"   ratio pipeline / floor: {run.wall_s / floor.wall_s:.1f}x wall, "
        f"{run.peak_rss_mb / floor.peak_rss_mb:.1f}x memory"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--years", type=int, nargs="+", default=[2021, 2022, 2023, 2024])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kson-bench-"))
    try:
        print(f"Benchmark of the visit path on {os.cpu_count()} cores, work folder {work}")
        runs = {scale: bench(scale, args.years, work) for scale in args.scales}
        low, high = min(runs), max(runs)
        if high > low:
            floor = runs[high]["floor"].wall_s - runs[low]["floor"].wall_s
            pipeline = runs[high]["pipeline"].wall_s - runs[low]["pipeline"].wall_s
            fixed = runs[low]["pipeline"].wall_s - pipeline * low / (high - low)
            print(
                f"\nmarginal cost ({high:g}x - {low:g}x): pipeline {pipeline:.1f} s, floor "
                f"{floor:.1f} s ({pipeline / floor:.1f}x; goal ≤ 3x)"
            )
            print(f"fixed cost (full run extrapolated to no visits): {fixed:.1f} s (goal < 10 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
