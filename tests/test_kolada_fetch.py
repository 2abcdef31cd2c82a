"""`kson fetch-kolada` against a local HTTP server on 127.0.0.1 that replays recorded Kolada v3
responses (tests/data/kolada_v3/): the real client, paging, 429s, split id lists, errors. No
test touches the real network: every one points KSON_KOLADA_URL at 127.0.0.1."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest import kolada, kolada_api

RECORDED = Path(__file__).parent / "data" / "kolada_v3"
KSON = Path(sys.executable).with_name("kson")
DATA = "/v3/data/kpi/U21468,N21006/municipality/0188/year/2021,2022"
EMPTY = b'{"values": [], "count": 0, "next_url": null, "previous_url": null}'


class Replay(ThreadingHTTPServer):
    """Answers a GET of a known path (with its query) with its recorded body, the real API's
    address replaced by its own; an unknown path with 404. A path in ``throttled`` is answered
    429 (Retry-After: ``retry_after``) that many times first; one in ``cut_short`` breaks off
    (its Content-Length promises more)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.routes: dict[str, bytes] = {}
        self.throttled: dict[str, int] = {}
        self.retry_after = "0"
        self.seen: list[str] = []
        self.cut_short: set[str] = set()

    def record(self, path: str, name: str) -> None:
        body = (RECORDED / name).read_bytes()
        self.routes[path] = body.replace(b"https://api.kolada.se", self.url.encode())


class _Handler(BaseHTTPRequestHandler):
    server: Replay

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.seen.append(self.path)
        if self.server.throttled.get(self.path, 0) > 0:
            self.server.throttled[self.path] -= 1
            self.send_response(429)
            self.send_header("Retry-After", self.server.retry_after)
            self.end_headers()
            return
        body = self.server.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        if self.path in self.server.cut_short:
            self.send_header("Content-Length", str(len(body or b"") + 100))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def server() -> Iterator[Replay]:
    replay = Replay()
    thread = threading.Thread(target=replay.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield replay
    replay.shutdown()
    replay.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch_kolada(landing: Path, base_url: str, *args: str) -> subprocess.CompletedProcess:
    """``kson fetch-kolada ARGS`` as a user runs it, landing and API pointed at the test's."""
    env = {**os.environ, "KSON_LANDING_DIR": str(landing), "KSON_KOLADA_URL": base_url}
    return subprocess.run(
        [KSON, "fetch-kolada", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_fetch_writes_every_page_of_every_call_as_a_file_the_kolada_family_reads(server, tmp_path):
    server.record(DATA, "data_U21468+N21006_0188_2021-2022_page1.json")
    server.record(f"{DATA}?page=2&per_page=2", "data_U21468+N21006_0188_2021-2022_page2.json")
    server.record("/v3/kpi/U21468,N21006", "kpi_U21468+N21006.json")
    server.record("/v3/municipality", "municipality.json")
    server.record("/v3/municipality_groups", "municipality_groups.json")
    server.throttled[DATA] = 1  # "slow down" once before the answer

    run = fetch_kolada(
        tmp_path, server.url, "--kpi", "U21468,N21006", "--years", "2021,2022", "--metadata",
        "--groups",
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert server.seen == [
        DATA,  # 429
        DATA,
        f"{DATA}?page=2&per_page=2",
        "/v3/kpi/U21468,N21006",
        "/v3/municipality",
        "/v3/municipality_groups",
    ]
    folder = tmp_path / "kolada"
    written = sorted(path.name for path in folder.iterdir())
    fetched = f"fetched{date.today().isoformat()}"
    assert written == sorted(
        [
            f"data_U21468+N21006_0188_2021-2022_{fetched}_page1.json",
            f"data_U21468+N21006_0188_2021-2022_{fetched}_page2.json",
            f"kpi_U21468+N21006_metadata_{fetched}_page1.json",
            f"municipality_groups_{fetched}_page1.json",
            f"municipality_{fetched}_page1.json",
        ]
    )
    assert f"Written: 5 file(s) into {folder}" in run.stdout
    # saved as they came
    page2 = folder / f"data_U21468+N21006_0188_2021-2022_{fetched}_page2.json"
    assert page2.read_bytes() == server.routes[f"{DATA}?page=2&per_page=2"]
    values = [
        kolada.read(folder / f"data_U21468+N21006_0188_2021-2022_{fetched}_page{n}.json")
        for n in (1, 2)
    ]
    assert all(result.ok for result in values)
    rows = [r.tables[kolada.VALUES_TABLE] for r in values]
    assert [len(frame) for frame in rows] == [4, 1]
    assert rows[1].row(0, named=True)["value"] == pytest.approx(207763.020833)
    metadata = kolada.read(folder / f"kpi_U21468+N21006_metadata_{fetched}_page1.json")
    assert metadata.tables[kolada.KPIS_TABLE]["kpi_id"].to_list() == ["U21468", "N21006"]
    municipalities = kolada.read(folder / f"municipality_{fetched}_page1.json")
    assert municipalities.tables[kolada.MUNICIPALITIES_TABLE]["municipality_id"].to_list() == [
        "0188", "0001", "0000", "0180",
    ]  # fmt: skip
    groups = kolada.read(folder / f"municipality_groups_{fetched}_page1.json")
    members = groups.tables[kolada.GROUPS_TABLE]  # the fetch date comes from the name
    assert members.select("group_id", "title", "fetched_on").unique().sort("group_id").rows() == [
        ("G176641", "Liknande kommuner äldreomsorg, Norrtälje, 2022", date.today()),
        ("G39654", "Liknande kommuner LSS, Norrtälje, 2022", date.today()),
    ]


def test_a_list_of_26_ids_is_split_into_calls_of_at_most_25(server, tmp_path):
    kpis = [f"N{20000 + n:05d}" for n in range(26)]
    first = f"/v3/data/kpi/{','.join(kpis[:25])}/year/2022"
    server.routes = {first: EMPTY, "/v3/data/kpi/N20025/year/2022": EMPTY}

    planned = kolada_api.calls(kpis, ["2022"], municipalities=None)
    written = kolada_api.fetch(kolada_api.Client(server.url), planned, tmp_path)

    assert server.seen == [first, "/v3/data/kpi/N20025/year/2022"]
    assert [path.name.split("_fetched")[0] for path in written] == [
        "data_N20000-N20024-25ids_all_2022",
        "data_N20025_all_2022",
    ]
    assert all(kolada.read(path).ok for path in written)


def test_a_failed_page_leaves_nothing_written(server, tmp_path):
    server.record(DATA, "data_U21468+N21006_0188_2021-2022_page1.json")  # page 2: 404

    planned = kolada_api.calls(["U21468", "N21006"], ["2021", "2022"], ["0188"])
    with pytest.raises(kolada_api.FetchError) as failure:
        kolada_api.fetch(kolada_api.Client(server.url), planned, tmp_path)

    assert str(failure.value) == f"{server.url}{DATA}?page=2&per_page=2: HTTP 404 Not Found"
    assert list((tmp_path / "kolada").iterdir()) == []  # no page 1, no .part file


def test_429_is_waited_out_at_most_the_capped_retry_after_a_few_times(server, tmp_path):
    server.routes[DATA] = EMPTY
    server.throttled[DATA] = 10
    server.retry_after = "3600"
    waits: list[float] = []
    client = kolada_api.Client(server.url, attempts=3, max_wait=60, sleep=waits.append)

    with pytest.raises(kolada_api.FetchError) as failure:
        kolada_api.fetch(client, [kolada_api.Call(DATA, "data")], tmp_path)

    assert waits == [60, 60]
    assert str(failure.value) == (
        f"{server.url}{DATA}: HTTP 429 Too Many Requests 3 times; try again later"
    )
    assert list((tmp_path / "kolada").iterdir()) == []


def test_without_a_readable_retry_after_the_wait_doubles_up_to_the_cap():
    client = kolada_api.Client("http://127.0.0.1", max_wait=5)
    assert [client._wait(None, attempt) for attempt in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert client._wait("soon", 2) == 2
    assert client._wait("Wed, 21 Oct 2015 07:28:00 GMT", 1) == 0  # a date passed: at once


def test_a_next_url_to_another_host_is_not_followed(server, tmp_path):
    server.routes[DATA] = b'{"values": [], "next_url": "https://elsewhere.example/v3/data"}'

    with pytest.raises(kolada_api.FetchError, match="next_url does not point at"):
        kolada_api.fetch(kolada_api.Client(server.url), [kolada_api.Call(DATA, "d")], tmp_path)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<html>Log in to the hotel wifi</html>", "the answer is not JSON"),
        (b'{"error": "unknown kpi"}', "the answer has no 'values' list"),
    ],
)
def test_an_answer_that_is_no_kolada_response_is_refused(server, tmp_path, body, error):
    server.routes[DATA] = body

    with pytest.raises(kolada_api.FetchError, match=error):
        kolada_api.fetch(kolada_api.Client(server.url), [kolada_api.Call(DATA, "d")], tmp_path)
    assert list((tmp_path / "kolada").iterdir()) == []


def test_an_answer_cut_short_is_refused(server, tmp_path):
    server.routes[DATA] = EMPTY
    server.cut_short.add(DATA)

    with pytest.raises(kolada_api.FetchError) as failure:
        kolada_api.fetch(kolada_api.Client(server.url), [kolada_api.Call(DATA, "d")], tmp_path)
    assert str(failure.value) == f"{server.url}{DATA}: a broken answer (IncompleteRead)"


def test_the_base_url_is_an_http_url(monkeypatch):
    monkeypatch.delenv("KSON_KOLADA_URL", raising=False)
    assert kolada_api.base_url_from_env() == "https://api.kolada.se"
    monkeypatch.setenv("KSON_KOLADA_URL", "http://127.0.0.1:8080/")
    assert kolada_api.base_url_from_env() == "http://127.0.0.1:8080"
    monkeypatch.setenv("KSON_KOLADA_URL", "ftp://127.0.0.1")
    with pytest.raises(kolada_api.FetchError, match="is not an http"):
        kolada_api.base_url_from_env()


def test_a_server_that_does_not_answer_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = kolada_api.Client(url, timeout=0.5)
        with pytest.raises(kolada_api.Unreachable) as failure:
            kolada_api.fetch(client, [kolada_api.Call(DATA, "d")], tmp_path)
    assert str(failure.value) == f"cannot reach {url} (no answer within 0.5 s)"


def test_offline_gives_a_clear_error_exit_2_and_writes_nothing(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.perf_counter()

    run = fetch_kolada(tmp_path, url, "--kpi", "U21468", "--years", "2022")

    assert time.perf_counter() - started < 20  # no long waits: start-up only
    assert run.returncode == 2
    assert run.stderr == (
        f"kson fetch-kolada: cannot reach {url} (connection refused): no network? nothing written\n"
    )
    assert list((tmp_path / "kolada").iterdir()) == []


@pytest.mark.parametrize(
    ("text", "what", "error"),
    [
        ("U21468,u2146", "kpi", "--kpi: 'u2146' is not an id (a letter and five digits"),
        ("0188,188", "municipality", "--municipality: '188' is not an id (four digits"),
        ("2022,22", "years", "--years: '22' is not a year from 1990 to 2100"),
        (" , ", "years", "--years: no id given"),
    ],
)
def test_bad_ids_are_refused_before_any_call(text, what, error):
    with pytest.raises(kolada_api.FetchError) as failure:
        kolada_api.ids(text, what)
    assert str(failure.value).startswith(error)


def test_ids_are_taken_once_in_order_and_years_labelled_as_a_range_or_list():
    assert kolada_api.ids("N21006, U21468,N21006", "kpi") == ["N21006", "U21468"]
    planned = kolada_api.calls(["U21468"], ["2022", "2018", "2020"], ["0188", "G176641"])
    assert planned == [
        kolada_api.Call(
            "/v3/data/kpi/U21468/municipality/0188,G176641/year/2022,2018,2020",
            "data_U21468_0188+G176641_2018+2020+2022",
        )
    ]
