"""Where the platform reads and writes, from the environment, without importing Dagster (the
quiet path of ``kson run`` needs it in a fraction of a second).

| variable         | default                           | what                        |
|------------------|-----------------------------------|-----------------------------|
| KSON_LANDING_DIR | data/landing                      | landing folder, <source>/   |
| KSON_WAREHOUSE   | warehouse/kson.duckdb             | serving file (BI reads it)  |
| KSON_BUILD_DB    | <warehouse dir>/kson_build.duckdb | build database (raw + dbt)  |

Relative paths are taken from the repository root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def env_path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    path = Path(value) if value else default
    return path if path.is_absolute() else REPO_ROOT / path


@dataclass(frozen=True)
class Locations:
    landing_dir: Path
    build_db: Path
    serving_db: Path

    @classmethod
    def from_env(cls) -> Locations:
        serving = env_path("KSON_WAREHOUSE", Path("warehouse/kson.duckdb"))
        return cls(
            landing_dir=env_path("KSON_LANDING_DIR", Path("data/landing")),
            build_db=env_path("KSON_BUILD_DB", serving.with_name("kson_build.duckdb")),
            serving_db=serving,
        )
