"""The example queries of the README run on the published marts and give the tables shown."""

import re

import duckdb

from conftest import REPO_ROOT

SECTION = re.compile(r"### Example queries\n(.*?)\n### ", re.DOTALL)
QUERY_AND_TABLE = re.compile(r"```sql\n(.*?)```\n\n((?:\|[^\n]*\|\n)+)", re.DOTALL)


def examples() -> list[tuple[str, list[list[str]]]]:
    """(query, table rows as cell texts, header first) of each README example."""
    section = SECTION.search((REPO_ROOT / "README.md").read_text("utf-8"))
    assert section, "no 'Example queries' section in the README"
    found = []
    for query, table in QUERY_AND_TABLE.findall(section.group(1)):
        lines = [line for line in table.strip().splitlines() if not line.startswith("|---")]
        found.append((query, [[cell.strip() for cell in line[1:-1].split("|")] for line in lines]))
    return found


def cell(value: object) -> str:
    return "" if value is None else str(value)


def test_the_readme_has_five_example_queries_that_run_on_the_marts(full_run):
    workspace, _ = full_run
    queries = examples()
    assert len(queries) == 5
    with duckdb.connect(str(workspace.serving_db), read_only=True) as con:
        for query, table in queries:
            cursor = con.execute(query)
            assert [column[0] for column in cursor.description] == table[0], query
            rows = [[cell(value) for value in row] for row in cursor.fetchall()]
            assert rows, f"no rows on the test sample: {query}"
            if "kpi_benchmark" in query:  # real Kolada values: the same at every sample scale
                assert rows == table[1:]
