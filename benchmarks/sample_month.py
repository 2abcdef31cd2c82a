"""Benchmark: one new month of visit logs into a warehouse holding four years of everything.

``benchmarks.visit_path`` measures a warehouse of visit logs alone; KSON's holds every family.
This generates the bundled sample for 2021–2024 (the providers' reports, visit logs and
follow-up, the sample ledgers, volumes and budget, Kolada and the manual indicators; the last
year's visit log without its December), measures the full first run of ``kson run`` on it, then
one new monthly file (``visits_2024-12.csv``) beside its floor, and prints the month's share of
the full run (issue 12: at most a quarter). Run: ``make bench``. Usage:
``python -m benchmarks.sample_month [--scale 1]``.
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
from benchmarks.visit_path import BIN, FLOOR_SQL, show, split_december

YEARS = ["2021", "2022", "2023", "2024"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kson-bench-"))
    try:
        landing = work / "landing"
        print(f"== the sample, four years at scale {args.scale:g}: generating ...", flush=True)
        for generator, years in (("providers", ["--years", *YEARS]), ("ledgers", [])):
            subprocess.run(
                [sys.executable, "-m", f"sample_data.{generator}", "--out", str(landing)]
                + ["--scale", str(args.scale), *years],
                check=True,
                capture_output=True,
                cwd=REPO_ROOT,
            )
        for family in ("kolada", "manual_indicators"):
            shutil.copytree(REPO_ROOT / "data" / "sample" / family, landing / family)
        year = landing / "visit_logs" / "visits_2024.csv"
        whole_year = year.rename(work / year.name)
        month = work / "visits_2024-12.csv"  # landed after the full run
        split_december(whole_year, year.parent, month)

        env = {
            **os.environ,
            "KSON_LANDING_DIR": str(landing),
            "KSON_WAREHOUSE": str(work / "warehouse" / "kson.duckdb"),
            "DAGSTER_HOME": str(work / "dagster_home"),
        }
        (work / "dagster_home").mkdir()
        full = measure([str(BIN / "kson"), "run"], env)
        stages = re.search(r"time per stage: (.*)", full.output)
        print(f"   full run:  {full.wall_s:6.1f} s wall, peak RSS {full.peak_rss_mb:6.0f} MB")
        print(f"   stages:   {stages.group(1) if stages else '?'}")
        os.link(month, year.parent / month.name)
        month_floor = measure([sys.executable, "-c", FLOOR_SQL, str(month)], env)
        month_run = measure([str(BIN / "kson"), "run"], env)
        print("   one new month:")
        show("  floor:   ", "  pipeline:", month_floor, month_run)
        print(
            f"   month / full run (all families): {month_run.wall_s / full.wall_s:.2f} "
            "(goal ≤ 0.25)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
