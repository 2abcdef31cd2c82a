"""Visit logs through the loader: parsed once (the rows staged by the reader are what is
loaded), the original archived, yearly and monthly files side by side."""

from pathlib import Path

import duckdb
import pytest

from ingest.landing import FileStore, load_family
from ingest.registry import FAMILIES
from sample_data.providers import generate

VISITS = FAMILIES["visit_logs"]


@pytest.fixture(scope="module")
def year_2022(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The header and the data lines of a small generated year."""
    out = tmp_path_factory.mktemp("providers")
    generate(out, scale=0.01, years=(2022,))
    return (out / "visit_logs" / "visits_2022.csv").read_text("utf-8").splitlines()


def test_yearly_and_monthly_files_load_once_from_their_staged_rows(
    tmp_path: Path, year_2022: list[str]
):
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    folder = store.landing_dir / "visit_logs"
    folder.mkdir(parents=True)
    header, rows = year_2022[0], year_2022[1:]
    december = [r for r in rows if r.split(",")[5].startswith("2022-12")]
    (folder / "visits_2022.csv").write_text("\n".join([header, *rows[:50]]) + "\n", "utf-8")
    (folder / "visits_2022-12.csv").write_text("\n".join([header, *december]) + "\n", "utf-8")
    with duckdb.connect(str(tmp_path / "kson.duckdb")) as con:
        outcome = load_family(con, VISITS, store)
        assert outcome.quarantined == []
        assert outcome.accepted == [
            ("visit_logs/visits_2022-12.csv", len(december)),
            ("visit_logs/visits_2022.csv", 50),
        ]
        loaded = con.execute(
            "SELECT l.file_name, count(*), min(v.planned_start)::VARCHAR, l.archive_path "
            "FROM raw.visit_logs v JOIN raw.load_log l USING (file_id) GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert [row[:2] for row in loaded] == [
        ("visits_2022-12.csv", len(december)),
        ("visits_2022.csv", 50),
    ]
    assert loaded[1][2] == rows[0].split(",")[5].replace("T", " ")
    # the archive keeps the original bytes (for replays); nothing staged is left behind
    for name, *_, archive_path in loaded:
        assert (store.archive_dir / archive_path).read_bytes() == (folder / name).read_bytes()
    assert not list((store.archive_dir / ".incoming").rglob("*.parquet"))
