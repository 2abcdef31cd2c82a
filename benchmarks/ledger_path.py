"""Benchmark: five years of sample ledgers through the real pipeline.

Generates KSON's sample ledgers for five years (2021–2025, ~500,000 transaction rows a year at
scale 1) with their health-care volumes and the 2024 budget file, then runs ``kson run`` in a
fresh process on a landing folder holding them (and the small survey sample): SIE parsing and
validation, loading, dbt build with tests of every model (the finance marts among them),
expectation suites, publish. Prints wall time, peak RSS of the process tree and the
pipeline's per-stage times, then the same for a second run with nothing new to load (the
nightly case). Not part of ``make test``. Usage: ``python -m benchmarks.ledger_path [--scale 1]``.
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
YEARS = ("2021", "2022", "2023", "2024", "2025")


def bench(scale: float, work: Path) -> None:
    landing = work / "landing"
    print(f"== generating the sample ledgers for {', '.join(YEARS)} at scale {scale:g} ...")
    subprocess.run(
        [sys.executable, "-m", "sample_data.ledgers", "--out", str(landing)]
        + ["--scale", str(scale), "--years", *YEARS],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    # The survey sample too: the survey mart's suite does not publish an empty mart.
    shutil.copytree(REPO_ROOT / "data" / "sample" / "kolada", landing / "kolada")
    sie = sorted((landing / "sie").iterdir())
    print(f"   {len(sie)} SIE files, {sum(p.stat().st_size for p in sie) / 1e6:,.0f} MB")

    env = {
        **os.environ,
        "KSON_LANDING_DIR": str(landing),
        "KSON_WAREHOUSE": str(work / "warehouse" / "kson.duckdb"),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }
    (work / "dagster_home").mkdir(exist_ok=True)
    for label in ("first run (loads everything)", "second run (nothing new to load)"):
        run = measure([str(BIN / "kson"), "run"], env)
        stages = re.search(r"time per stage: (.*)", run.output)
        rows = re.findall(
            r"marts\.(finance_budget_outcome|cost_per_user|reimbursement_control|"
            r"member_contributions): (\d+) rows",
            run.output,
        )
        print(f"-- {label}")
        print(f"   kson run: {run.wall_s:6.1f} s wall, peak RSS {run.peak_rss_mb:6.0f} MB")
        if stages is None:  # a run with nothing to do says why, on its first line
            print(f"   {run.output.strip().splitlines()[0]}")
            continue
        print(f"   stages:   {stages.group(1)}")
        print(f"   marts:    {', '.join(f'{name} {count} rows' for name, count in rows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kson-bench-ledgers-"))
    try:
        print(f"Benchmark of the ledger path on {os.cpu_count()} cores, work folder {work}")
        bench(args.scale, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
