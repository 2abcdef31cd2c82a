import json
from pathlib import Path

import pytest
from pii_forms import BORN_2005_WITHOUT_ZERO, FORMS

from conftest import SAMPLE_DIR
from ingest import kolada
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO


@pytest.fixture(scope="module")
def reference(shared_reference: Path) -> Path:
    return shared_reference / "kolada"


def write(tmp_path: Path, document: object, name: str = "response.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_reads_a_real_v3_response_with_gender_split(reference: Path):
    result = kolada.read(reference / "example_v3_data_U21468_0188__reconstructed.json")
    assert result.ok
    values = result.tables["kolada_values"]
    row = values.filter(period=2022, gender="K").row(0, named=True)
    assert row["kpi_id"] == "U21468" and row["municipality_id"] == "0188"
    assert row["value"] == 92.0
    assert sorted(values["gender"].unique()) == ["K", "M", "T"]


def test_reads_a_v2_response_the_same_way(reference: Path):
    v2 = kolada.read(reference / "example_v2_data_U21468_0188__reconstructed.json")
    v3 = kolada.read(reference / "example_v3_data_U21468_0188__reconstructed.json")
    columns = ["kpi_id", "municipality_id", "period", "gender", "value"]
    assert (
        v2.tables["kolada_values"]
        .sort(columns)
        .select(columns)
        .equals(v3.tables["kolada_values"].sort(columns).select(columns))
    )


def test_reads_kpi_metadata_keyed_on_ids(reference: Path):
    result = kolada.read(reference / "kpi_metadata_selected__v3_2026-03__from_rKolada_sysdata.json")
    kpis = result.tables["kolada_kpis"]
    row = kpis.filter(kpi_id="U23471").row(0, named=True)
    assert row["is_divided_by_gender"] is True
    assert "särskilt boende" in row["title"]


def test_null_value_is_kept_as_null_not_zero():
    result = kolada.read(SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json")
    nulls = result.tables["kolada_values"].filter(period=2021)
    assert nulls.height == 12 and nulls["value"].null_count() == 12
    assert set(nulls["count"]) == {0}


def test_paged_response_notes_the_next_page():
    result = kolada.read(SAMPLE_DIR / "kolada" / "data_hemtjanst_0188_2020-2023_page1.json")
    assert result.ok
    assert any("page=2" in note for note in result.notes)


def test_errors_name_the_place_and_the_rule(tmp_path):
    path = write(
        tmp_path,
        {
            "values": [
                {
                    "kpi": "U21468",
                    "period": 2022,
                    "municipality": "0188",
                    "values": [{"gender": "T", "count": 1, "status": "", "value": 91.0}],
                },
                {
                    "kpi": "21468",
                    "period": "2022",
                    "municipality": "0188",
                    "values": [{"gender": "X", "count": -1, "value": "91"}],
                },
            ]
        },
    )
    result = kolada.read(path)
    assert not result.ok and result.tables == {}
    places = {(e.place, e.rule) for e in result.errors}
    assert ("values[1].kpi", "missing or malformed KPI id") in places
    assert ("values[1].period", "missing or malformed period") in places
    assert ("values[1].values[0].gender", "unknown gender code") in places
    assert ("values[1].values[0].value", "value is neither a number nor null") in places
    assert ("values[1].values[0].count", "count is not a non-negative integer") in places
    assert all(e.file == "response.json" for e in result.errors)


def test_truncated_json_reports_line_and_column(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('{"values": [\n  {"kpi": "U21468",\n', encoding="utf-8")
    [error] = kolada.read(path).errors
    assert error.place.startswith("line 3")
    assert error.rule.startswith("not valid JSON")


def test_duplicate_cells_in_one_file_are_rejected(tmp_path):
    cell = {"gender": "T", "count": 1, "status": "", "value": 90.0}
    entry = {"kpi": "U21468", "period": 2022, "municipality": "0188", "values": [cell, cell]}
    [error] = kolada.read(write(tmp_path, {"values": [entry]})).errors
    assert error.place == "values[0].values[1]"
    assert "appears twice" in error.rule


def test_non_utf8_file_is_rejected(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"values": [], "note": "Norrtälje"}'.encode("cp1252"))
    [error] = kolada.read(path).errors
    assert error.rule == "file is not UTF-8"


# ------------------------------------------------------------------------------ bounds, odd files
def entry(kpi: str = "U21468", **cell: object) -> dict:
    values = {"gender": "T", "count": 1, "status": "", "value": 91.0} | cell
    return {"kpi": kpi, "period": 2022, "municipality": "0188", "values": [values]}


def only_error(tmp_path: Path, text: str) -> tuple[str, str, str | None]:
    path = tmp_path / "response.json"
    path.write_text(text, encoding="utf-8")
    result = kolada.read(path)
    assert not result.ok and result.tables == {}
    [error] = result.errors
    return error.place, error.rule, error.expected


def test_a_deeply_nested_array_is_rejected_not_a_recursion_error(tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    assert only_error(tmp_path, '{"values": ' + deep + "}")[:2] == (
        "file",
        "JSON nested too deeply to read",
    )


def test_a_number_python_cannot_parse_is_rejected(tmp_path):
    document = json.dumps({"values": [entry(count=1)]}).replace(
        '"count": 1', '"count": ' + "9" * 5000
    )
    assert only_error(tmp_path, document)[:2] == ("file", "a number too long to read")


def test_a_count_beyond_any_integer_type_is_rejected(tmp_path):
    place, rule, expected = only_error(tmp_path, json.dumps({"values": [entry(count=10**30)]}))
    assert (place, rule) == ("values[0].values[0].count", "number outside the plausible range")
    assert expected.startswith("0 to 1000 members of a group")


def test_a_metadata_flag_that_is_not_a_boolean_is_rejected(tmp_path):
    kpi = {"id": "U21468", "title": "Helhetssyn", "is_divided_by_gender": "ja"}
    place, rule, _ = only_error(tmp_path, json.dumps({"values": [kpi]}))
    assert (place, rule) == (
        "values[0].is_divided_by_gender",
        "is_divided_by_gender is not true or false",
    )


def test_v2_metadata_flags_as_0_and_1_are_read_as_booleans(tmp_path):
    kpi = {"id": "U21468", "title": "Helhetssyn", "is_divided_by_gender": 1, "has_ou_data": 0}
    result = kolada.read(write(tmp_path, {"values": [kpi]}))
    row = result.tables["kolada_kpis"].row(0, named=True)
    assert row["is_divided_by_gender"] is True and row["has_ou_data"] is False


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinite_values_are_rejected(tmp_path, literal):
    document = json.dumps({"values": [entry()]}).replace("91.0", literal)
    place, rule, expected = only_error(tmp_path, document)
    assert (place, rule, expected) == (
        "values[0].values[0].value",
        "value is NaN or infinite",
        "0 to 100 per cent",
    )


@pytest.mark.parametrize(
    ("kpi", "largest", "too_large", "expected"),
    [
        ("U21468", 100, 100.1, "0 to 100 per cent"),  # a survey share
        ("U23593", 100, 100.1, "0 to 100 per cent"),  # a response rate
        ("U23592", 1_000_000, 1_000_001, "0 to 1000000 respondents"),
        ("N21006", 10**13, 10**13 + 1, "-10000000000000 to 10000000000000 in the KPI's unit"),
    ],
)
def test_values_at_the_bound_pass_and_just_above_it_are_rejected(
    tmp_path, kpi, largest, too_large, expected
):
    good = kolada.read(write(tmp_path, {"values": [entry(kpi, value=largest, count=1000)]}))
    assert good.ok and good.tables["kolada_values"]["value"].to_list() == [largest]
    for bad in (too_large, -0.1 if largest <= 10**6 else -(10**13) - 1):
        place, rule, shown = only_error(tmp_path, json.dumps({"values": [entry(kpi, value=bad)]}))
        assert (place, rule, shown) == (
            "values[0].values[0].value",
            "number outside the plausible range",
            expected,
        )
    place, rule, _ = only_error(tmp_path, json.dumps({"values": [entry(kpi, count=1001)]}))
    assert (place, rule) == ("values[0].values[0].count", "number outside the plausible range")


@pytest.mark.parametrize(
    "change",
    [
        {"kpi": ["U21468"]},
        {"period": [2022]},
        {"municipality": {"id": "0188"}},
        {"ou": ["V15E018800101"], "municipality": None},
        {"values": {"gender": "T"}},
        {"values": [{"gender": ["T"], "value": 1.0}]},
        {"values": [{"gender": "T", "value": [1.0], "count": {"n": 1}, "status": []}]},
        {"values": [{"gender": "T", "value": 10**400}]},
    ],
)
def test_values_of_the_wrong_type_anywhere_are_rejected_not_raised(tmp_path, change):
    document = {"values": [entry() | change], "next_url": [["not", "a", "url"]]}
    result = kolada.read(write(tmp_path, document))
    assert not result.ok and result.tables == {}
    assert all(error.place.startswith("values[0]") for error in result.errors)


# ------------------------------------------------------------------------------ personal data


def personal(result: kolada.ReadResult) -> list[tuple[str, str]]:
    assert not result.ok and result.tables == {} and result.scanned
    assert all(e.personal_data for e in result.errors)
    digits = "".join(c for c in "\n".join(map(str, result.errors)) if c.isdigit())
    for number in [*FORMS, BORN_2005_WITHOUT_ZERO]:
        assert "".join(c for c in number if c.isdigit()) not in digits
    return [(e.place, e.rule) for e in result.errors]


def test_every_form_in_every_string_key_and_number(tmp_path):
    document = {
        "values": [
            entry(status=f"kund {FORMS[0]}"),
            entry(gender=FORMS[1]),
            {**entry(), "ou": FORMS[2], "municipality": None},
            {**entry(), "kpi": f"U21468 {FORMS[3]}"},
            {**entry(), "note": {"deeper": [f"x{FORMS[4]}"]}},
            {**entry(), f"key {FORMS[5]}": 1, "id12": 1},
            entry(count=int(FORMS[8])),
            entry(count=int(BORN_2005_WITHOUT_ZERO)),
            entry(value=int(BORN_2005_WITHOUT_ZERO)),  # a KPI's figure may have 9 digits
            entry(status=BORN_2005_WITHOUT_ZERO),
        ],
        "next_url": f"https://api.kolada.se/v3/data?user={FORMS[6]}",
        FORMS[8]: "x",
    }
    assert personal(kolada.read(write(tmp_path, document))) == [
        ("values[0].values[0].status", RULE_PERSONNUMMER),
        ("values[1].values[0].gender", RULE_PERSONNUMMER),
        ("values[2].ou", RULE_PERSONNUMMER),
        ("values[3].kpi", RULE_PERSONNUMMER),
        ("values[4].note.deeper[0]", RULE_PERSONNUMMER),
        ("values[5].<key 5>", RULE_PERSONNUMMER),
        ("values[6].values[0].count", RULE_PERSONNUMMER),
        ("values[7].values[0].count", RULE_WITHOUT_ZERO),
        ("values[9].values[0].status", RULE_WITHOUT_ZERO),
        ("next_url", RULE_PERSONNUMMER),
        ("<key 3>", RULE_PERSONNUMMER),
    ]


def test_a_document_of_another_shape_is_scanned_too(tmp_path):
    result = kolada.read(write(tmp_path, [{"title": f"brukare {FORMS[0]}"}]))
    assert personal(result) == [("$[0].title", RULE_PERSONNUMMER)]


def test_a_paged_response_holding_a_number_notes_nothing(tmp_path):
    document = {"values": [], "next_url": f"https://x/?q={FORMS[0]}"}
    result = kolada.read(write(tmp_path, document))
    assert personal(result) == [("next_url", RULE_PERSONNUMMER)] and result.notes == []


def test_a_file_that_does_not_parse_is_not_scanned(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('{"values": [', encoding="utf-8")
    assert not kolada.read(path).scanned


# ------------------------------------------------------------------ municipalities, groups


def test_reads_the_municipality_response():
    result = kolada.read(SAMPLE_DIR / "kolada" / "municipality.json")
    assert result.ok and result.scanned
    table = result.tables["kolada_municipalities"]
    assert table.height == 312
    assert table.filter(municipality_id="0188").row(0) == ("0188", "Norrtälje", "K")
    assert table.filter(municipality_id="0000").row(0) == ("0000", "Riket", "L")


def test_reads_a_real_municipality_response(reference: Path):
    rows = json.loads((reference / "pykolada__data__municipality.json").read_text("utf-8"))
    result = kolada.read(SAMPLE_DIR / "kolada" / "municipality.json")
    assert result.tables["kolada_municipalities"].rows() == [
        (row["id"], row["title"], row["type"]) for row in rows
    ]


def test_reads_the_groups_with_their_titles_and_the_fetch_date_from_the_name():
    result = kolada.read(SAMPLE_DIR / "kolada" / "municipality_groups_2024-01-15.json")
    assert result.ok and result.scanned
    groups = result.tables["kolada_municipality_groups"]
    elderly = groups.filter(group_id="G176641")
    assert set(elderly["title"]) == {"Liknande kommuner äldreomsorg, Norrtälje, 2022"}
    assert sorted(elderly["member_id"]) == [
        "0138", "0160", "0162", "0186", "0192", "0980", "2284"
    ]  # fmt: skip
    assert groups.filter(group_id="G33612").height == 26
    assert set(groups["fetched_on"].cast(str)) == {"2024-01-15"}


def group(**change: object) -> dict:
    members = [{"member_id": "0138", "member_title": "Tyresö"}]
    return {"id": "G176641", "title": "Liknande kommuner äldreomsorg", "members": members} | change


def test_a_group_response_without_a_fetch_date_in_its_name_is_rejected(tmp_path):
    for name in ("municipality_groups.json", "municipality_groups_2024-02-30.json"):
        [error] = kolada.read(write(tmp_path, {"values": [group()]}, name)).errors
        assert (error.file, error.place) == (name, "file name")
        assert error.rule == "a municipality group response's name carries no fetch date"
        assert error.expected.endswith("e.g. municipality_groups_2024-01-15.json")


def test_group_errors_name_the_place_and_the_rule(tmp_path):
    twice = [{"member_id": "0138", "member_title": "Tyresö"}] * 2
    document = {
        "values": [
            group(),
            group(),
            group(id="176641", title=" "),
            group(id="G1", members={"member_id": "0138"}),
            group(id="G2", members=[{"member_id": "138", "member_title": 1}, "0188"]),
            group(id="G3", members=twice),
        ]
    }
    result = kolada.read(write(tmp_path, document, "municipality_groups_2024-01-15.json"))
    assert not result.ok and result.tables == {} and result.scanned
    assert [(e.place, e.rule) for e in result.errors] == [
        ("values[1].id", "the same group appears twice in the file"),
        ("values[2].id", "malformed group id"),
        ("values[2].title", "missing group title"),
        ("values[3].members", "members is not a list"),
        ("values[4].members[0].member_id", "malformed member id"),
        ("values[4].members[0].member_title", "member_title is not text"),
        ("values[4].members[1]", "member is not an object"),
        ("values[5].members[1].member_id", "the same member appears twice in the group"),
    ]


def test_municipality_errors_name_the_place_and_the_rule(tmp_path):
    good = {"id": "0188", "title": "Norrtälje", "type": "K"}
    document = {
        "values": [
            good,
            good,
            {"id": 188, "title": "", "type": "X"},
            "0191",
        ]
    }
    result = kolada.read(write(tmp_path, document))
    assert not result.ok and result.tables == {}
    assert [(e.place, e.rule, e.expected) for e in result.errors] == [
        ("values[1].id", "the same municipality appears twice in the file", None),
        ("values[2].id", "malformed municipality id", "4 digits, e.g. 0188"),
        ("values[2].title", "missing municipality title", None),
        ("values[2].type", "unknown municipality type", "K (kommun) or L (region)"),
        ("values[3]", "entry is not an object", None),
    ]


def test_a_personal_identity_number_in_a_group_is_found_and_not_shown(tmp_path):
    members = [{"member_id": "0138", "member_title": f"Tyresö {FORMS[0]}"}]
    document = {"values": [group(members=members)]}
    result = kolada.read(write(tmp_path, document, "municipality_groups_2024-01-15.json"))
    assert personal(result) == [("values[0].members[0].member_title", RULE_PERSONNUMMER)]
