"""DuckDB's memory limit on the build database (it would otherwise take 80 % of the RAM)."""

from pathlib import Path

import pytest

from orchestration.resources import WarehouseResource


def _limit(tmp_path: Path, read_only: bool = False) -> str:
    warehouse = WarehouseResource(
        landing_dir=str(tmp_path / "landing"),
        build_db=str(tmp_path / "build.duckdb"),
        serving_db=str(tmp_path / "kson.duckdb"),
    )
    with warehouse.connect_build(read_only=read_only) as con:
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_the_build_connection_has_a_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KSON_DUCKDB_MEMORY_LIMIT", raising=False)
    assert _limit(tmp_path) == "572.2 MiB"  # 600MB
    assert _limit(tmp_path, read_only=True) == "572.2 MiB"
    monkeypatch.setenv("KSON_DUCKDB_MEMORY_LIMIT", "512MB")
    assert _limit(tmp_path) == "488.2 MiB"
