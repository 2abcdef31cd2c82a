"""Benchmark: the home-care visit path through the real pipeline, against DuckDB alone.

For each scale (1 = Norrtälje, ~1 M visits a year; 10 = ~10 M) it generates one year of visit
logs, then measures in fresh processes:

- **floor**: DuckDB alone reads the same CSV and computes performed hours per provider and
  month (what the marts need from the visits);
- **pipeline**: ``kson run`` on a landing folder holding that visit log (and the small survey
  sample): ingest (validation + load), dbt build with tests, expectation suites, publish.

It prints wall time, peak RSS of the whole process tree (sampled from /proc every 20 ms), the
pipeline's per-stage times and the ratio to the floor. Run: ``make bench`` (not part of
``make test``). Usage: ``python -m benchmarks.visit_path [--scales 1 10] [--year 2023]``.
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

from benchmarks.measure import REPO_ROOT, measure

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
    GROUP BY ALL''', [sys.argv[1]]).fetchall()
print(sum(r[3] for r in rows), 'visits in', len(rows), 'provider-months')
"""


def bench(scale: float, year: int, work: Path) -> None:
    sample = work / f"sample_{scale:g}"
    print(f"\n== scale {scale:g}: generating one year ({year}) of visit logs ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sample_data.providers",
            "--out",
            str(sample),
            "--scale",
            str(scale),
            "--years",
            str(year),
        ],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    csv = sample / "visit_logs" / f"visits_{year}.csv"
    landing = work / f"landing_{scale:g}"
    (landing / "visit_logs").mkdir(parents=True)
    os.link(csv, landing / "visit_logs" / csv.name)
    # The survey sample too: the survey mart's suite does not publish an empty mart.
    shutil.copytree(REPO_ROOT / "data" / "sample" / "kolada", landing / "kolada")
    print(f"   {csv.stat().st_size / 1e6:,.0f} MB CSV", flush=True)

    env = {
        **os.environ,
        "KSON_LANDING_DIR": str(landing),
        "KSON_WAREHOUSE": str(work / f"warehouse_{scale:g}" / "kson.duckdb"),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }
    (work / "dagster_home").mkdir(exist_ok=True)
    floor = measure([sys.executable, "-c", FLOOR_SQL, str(csv)], env)
    pipeline = measure([str(BIN / "kson"), "run"], env)
    stages = re.search(r"time per stage: (.*)", pipeline.output)
    visits = floor.output.strip().splitlines()[-1].split()[0]
    print(f"   visits:   {int(visits):,}")
    print(
        f"   floor:    {floor.wall_s:6.1f} s wall, peak RSS {floor.peak_rss_mb:6.0f} MB "
        "(DuckDB alone: read_csv + monthly performed hours per provider)"
    )
    print(
        f"   pipeline: {pipeline.wall_s:6.1f} s wall, peak RSS {pipeline.peak_rss_mb:6.0f} MB "
        "(kson run: ingest, dbt build + tests, expectations, publish)"
    )
    print(f"   stages:   {stages.group(1) if stages else '?'}")
    print(
        f"   ratio pipeline / floor: {pipeline.wall_s / floor.wall_s:.1f}x wall, "
        f"{pipeline.peak_rss_mb / floor.peak_rss_mb:.1f}x memory"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--year", type=int, default=2023)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kson-bench-"))
    try:
        print(f"Benchmark of the visit path on {os.cpu_count()} cores, work folder {work}")
        for scale in args.scales:
            bench(scale, args.year, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
