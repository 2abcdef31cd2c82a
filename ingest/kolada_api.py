"""Kolada v3 API client behind ``kson fetch-kolada``: fetches responses into the landing folder.

Each page of each answer becomes one file in ``<landing>/kolada/``, saved as it came, named so
that it says what was asked and when (``data_U21468+N21006_0188_2021-2022_fetched2026-11-26_
page1.json``); the Kolada family (:mod:`ingest.kolada`) reads it at the next run. Requests
follow the API's limits (``../shared/DOMAIN.md``): at most 25 ids in one comma-separated
list (longer lists are split into several calls), paging by ``next_url`` until it is null or
absent, and an HTTP 429 waited out (``Retry-After``, capped) a few times. Every page is
fetched before anything is written: pages go to hidden ``.part`` files that are renamed into
place only when the whole fetch succeeded, so a failed fetch leaves nothing behind.

Plain Python (urllib), no Dagster. The base URL comes from ``KSON_KOLADA_URL`` (default
``https://api.kolada.se``), so the tests point it at a local server.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ingest.kolada import KPI_ID, MUNICIPALITY_ID, SOURCE

BASE_URL_VARIABLE = "KSON_KOLADA_URL"
DEFAULT_BASE_URL = "https://api.kolada.se"
MAX_IDS = 25  # ids in one comma-separated list (the API's limit)
TIMEOUT_SECONDS = 30.0  # per request: connecting and each read
ATTEMPTS = 5  # calls of one URL while it answers 429
MAX_WAIT_SECONDS = 60.0  # the longest wait after a 429, whatever Retry-After asks
MAX_PAGES = 1_000  # of one answer: a next_url loop stops here
YEARS = range(1990, 2101)  # as the Kolada contract's period


class FetchError(Exception):
    """The fetch failed (the message says why); nothing was written."""


class Unreachable(FetchError):
    """The API could not be reached at all (no network, refused, timed out)."""


@dataclass(frozen=True)
class Call:
    """One API path (with its comma-separated lists) and the stem of its pages' file names."""

    path: str
    stem: str


def base_url_from_env() -> str:
    """``KSON_KOLADA_URL`` or the real API, checked to be an http(s) URL, without a final /."""
    url = (os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"{BASE_URL_VARIABLE}={url!r} is not an http(s) URL")
    return url


def ids(text: str, what: str) -> list[str]:
    """The comma-separated ids of ``--kpi``, ``--municipality`` or ``--years``, checked, each
    once, in the order given."""
    pattern = {"kpi": KPI_ID, "municipality": MUNICIPALITY_ID}.get(what)
    found = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not found:
        raise FetchError(f"--{what}: no id given")
    for one in found:
        if pattern is not None and not pattern.fullmatch(one):
            expected = (
                "a letter and five digits, e.g. U21468"
                if what == "kpi"
                else "four digits, e.g. 0188, or a group id, e.g. G176641"
            )
            raise FetchError(f"--{what}: {one!r} is not an id ({expected})")
        if pattern is None and not (one.isdigit() and int(one) in YEARS):
            raise FetchError(f"--{what}: {one!r} is not a year from 1990 to 2100")
    return found


def calls(
    kpis: Sequence[str],
    years: Sequence[str],
    municipalities: Sequence[str] | None,
    metadata: bool = False,
    groups: bool = False,
) -> list[Call]:
    """The API calls of one fetch: KPI values for ``municipalities`` (``None``: all of them),
    with ``metadata`` the KPIs' metadata and the municipalities' (``/v3/municipality``), with
    ``groups`` the municipality groups with their members."""
    done: list[Call] = []
    for kpi_part in _chunks(kpis):
        for year_part in _chunks(years):
            year_label = _years_label(year_part)
            if municipalities is None:
                path = f"/v3/data/kpi/{','.join(kpi_part)}/year/{','.join(year_part)}"
                done.append(Call(path, f"data_{_label(kpi_part)}_all_{year_label}"))
                continue
            for area_part in _chunks(municipalities):
                path = (
                    f"/v3/data/kpi/{','.join(kpi_part)}/municipality/{','.join(area_part)}"
                    f"/year/{','.join(year_part)}"
                )
                done.append(Call(path, f"data_{_label(kpi_part)}_{_label(area_part)}_{year_label}"))
    if metadata:
        for kpi_part in _chunks(kpis):
            done.append(Call(f"/v3/kpi/{','.join(kpi_part)}", f"kpi_{_label(kpi_part)}_metadata"))
        done.append(Call("/v3/municipality", "municipality"))
    if groups:
        done.append(Call("/v3/municipality_groups", "municipality_groups"))
    return done


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[start : start + MAX_IDS] for start in range(0, len(items), MAX_IDS)]


def _label(part: Sequence[str]) -> str:
    """``U21468+N21006`` for up to three ids, ``U21463-U23595-12ids`` for more."""
    return "+".join(part) if len(part) <= 3 else f"{part[0]}-{part[-1]}-{len(part)}ids"


def _years_label(part: Sequence[str]) -> str:
    """``2018-2022`` for consecutive years, else ``2018+2020``."""
    numbers = sorted(int(year) for year in part)
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}-{numbers[-1]}"
    return "+".join(str(year) for year in numbers)


@dataclass
class Client:
    """GETs JSON from the Kolada API: a timeout per request, 429s waited out, pages followed."""

    base_url: str
    timeout: float = TIMEOUT_SECONDS
    attempts: int = ATTEMPTS
    max_wait: float = MAX_WAIT_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def pages(self, path: str) -> Iterator[bytes]:
        """The pages of the answer to ``path``, as they came, following ``next_url``."""
        url = self.base_url + path
        for _ in range(MAX_PAGES):
            body = self.get(url)
            try:
                document = json.loads(body)
            except ValueError as error:
                raise FetchError(f"{url}: the answer is not JSON ({error})") from None
            if not isinstance(document, dict) or not isinstance(document.get("values"), list):
                raise FetchError(f"{url}: the answer has no 'values' list")
            yield body
            following = document.get("next_url", document.get("next_page"))
            if not following:
                return
            url = self._same_origin(url, following)
        raise FetchError(f"{self.base_url + path}: more than {MAX_PAGES} pages (a next_url loop?)")

    def _same_origin(self, url: str, following: object) -> str:
        """``next_url`` as an absolute URL, only on the API's own host."""
        absolute = urljoin(url, following) if isinstance(following, str) else ""
        if urlsplit(absolute)[:2] != urlsplit(self.base_url)[:2]:
            raise FetchError(f"{url}: next_url does not point at {self.base_url}")
        return absolute

    def get(self, url: str) -> bytes:
        """The body of a 200 answer to ``url``; a 429 is waited out up to ``attempts`` calls."""
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    return answer.read()
            except urllib.error.HTTPError as error:
                if error.code != 429:
                    raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
                if attempt == self.attempts:
                    break
                self.sleep(self._wait(error.headers.get("Retry-After"), attempt))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                raise Unreachable(
                    f"cannot reach {self.base_url} ({_reason(error, self.timeout)})"
                ) from None
            except http.client.HTTPException as error:  # e.g. an answer cut short
                raise FetchError(f"{url}: a broken answer ({type(error).__name__})") from None
        raise FetchError(
            f"{url}: HTTP 429 Too Many Requests {self.attempts} times; try again later"
        )

    def _wait(self, retry_after: str | None, attempt: int) -> float:
        """Seconds to wait before calling again: ``Retry-After`` (seconds or an HTTP date),
        else 1, 2, 4, … s; never more than ``max_wait``."""
        seconds = 2.0 ** (attempt - 1)
        if retry_after is not None:
            value = retry_after.strip()
            if value.isdigit():
                seconds = float(value)
            else:
                try:
                    when = parsedate_to_datetime(value)
                    seconds = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass  # an unreadable header: the default backoff
        return min(max(seconds, 0.0), self.max_wait)


def _reason(error: Exception, timeout: float) -> str:
    """Why a connection failed, in a few words."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host name not resolved: {reason.strerror}"
    return str(getattr(reason, "strerror", None) or reason)


def fetch(
    client: Client, planned: Sequence[Call], landing_dir: Path, today: date | None = None
) -> list[Path]:
    """Fetch every page of every call into ``<landing_dir>/kolada/``; the files written, in
    call and page order. Nothing is written unless every call succeeded."""
    folder = landing_dir / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    fetched = f"fetched{(today or date.today()).isoformat()}"
    parts: list[tuple[Path, Path]] = []  # (hidden part file, final name)
    try:
        for call in planned:
            for number, body in enumerate(client.pages(call.path), 1):
                final = folder / f"{call.stem}_{fetched}_page{number}.json"
                part = folder / f".{final.name}.part"  # hidden: no family takes it
                part.write_bytes(body)
                parts.append((part, final))
        for part, final in parts:
            part.replace(final)
    finally:
        for part, _ in parts:
            part.unlink(missing_ok=True)
    return [final for _, final in parts]
