"""The report the board reads: one self-contained HTML file per publication (issue 11, point 6).

In the spirit of seed 004's *Nulägeskarta*: the indicators by goal area with value, target and
a status colour; the user survey with small trend charts; the contract follow-up per area and
the open action plans; cost per user against the county and the comparison group; member
contributions, KSON's annual result and the reimbursement deviations.

- It reads the published serving version (what BI sees), through the same small-cell views
  as the exports (``orchestration.exports.suppressed_views``, from the marts' yml marks): a
  figure about fewer than 5 persons is never shown (its cell says so). A mart missing from
  the serving file is named as not published; a stale one says since when it is kept.
- It opens without a network: CSS inline, charts inline SVG (Altair specs rendered by
  vl-convert, no script, no font or image fetched). Every text from the marts is
  HTML-escaped (Jinja2 autoescape); nothing is neutralised (HTML is not a spreadsheet).
- ``reports/kson-report-<publication>.html`` beside the serving file, written under a
  temporary name and renamed; ``reports/report.html``, a link swapped atomically like the
  serving file's, points at the newest. Reports go with their serving versions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import jinja2
import vl_convert

from ingest.validation import sql_literal
from orchestration.exports import SMALL_CELL_FLAG, Suppression, suppressed_views
from orchestration.publishing import fsync_file, point_at, publication_id, serving_dir

REPORT_LINK = "report.html"
TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"
NORRTALJE = "0188"
SMALL = "färre än 5"  # what a suppressed figure's cell says
STATUS_CLASS = {"uppnått": "ok", "ej uppnått": "miss"}  # else grey: saknar data, saknar mål
COST_SERVICES = {
    "hemtjanst": "Hemtjänst",
    "sarskilt_boende": "Särskilt boende",
    "lss_boende": "Bostad med särskild service LSS",
}
# Kolada KPIs compared (seed 001): cost per user in hemtjänst, särskilt boende and LSS housing,
# and elderly care's net cost deviation; the comparison group each is read against
BENCHMARK_KPIS = {"N21006": "elderly", "N23009": "elderly", "N28013": "lss", "N20900": "elderly"}
MEMBERS = {"region_stockholm": "Region Stockholm", "norrtalje_kommun": "Norrtälje kommun"}
# Swedish words for the marts' codes, and the colour of each
LABELS = {
    "result_class": {"godkänd": "ok", "delvis godkänd": "warn", "ej godkänd": "miss"},
    "restoration": {
        "not_negative": "ej negativt",
        "restored": "återställt",
        "open": "ska återställas",
        "not_restored": "ej återställt i tid",
        "year_not_closed": "året ej avslutat",
    },
    "restoration_class": {"restored": "ok", "open": "warn", "not_restored": "miss"},
    "deviation": {
        "overpaid": "överbetalt",
        "underpaid": "underbetalt",
        "paid_without_volume": "betalt utan rapporterad volym",
    },
}


def reports_dir(serving_db: Path) -> Path:
    return serving_db.parent / "reports"


def report_link(serving_db: Path) -> Path:
    return reports_dir(serving_db) / REPORT_LINK


def report_publication(serving_db: Path, report: Path) -> str:
    """The publication a report file was written from."""
    return report.name.removeprefix(f"{serving_db.stem}-report-").removesuffix(".html")


@dataclass
class Cell:
    """A figure as shown: its text, and whether it was withheld as a small cell."""

    text: str
    small: bool = False
    css: str = ""


@dataclass
class Section:
    """A part of the report and the state of the marts it reads."""

    marts: tuple[str, ...]
    missing: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return not self.missing


# --- numbers in Swedish: narrow no-break space between thousands, decimal comma


def number(value: Any, decimals: int = 0) -> str:
    """Rounded half up, as the marts round."""
    if value is None:
        return "–"
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}".replace(",", "\u202f").replace(".", ",").replace("-", "−")


def _unit(text: str, unit: str) -> str:
    return text if text == "–" or not unit else f"{text} {unit}"


def percent(value: Any, decimals: int = 0) -> str:
    return _unit(number(value, decimals), "%")


def msek(value: Any) -> str:
    """Millions of SEK, one decimal."""
    return "–" if value is None else _unit(number(Decimal(value) / 1_000_000, 1), "mnkr")


def sek(value: Any, decimals: int = 0) -> str:
    return _unit(number(value, decimals), "kr")


def cell(row: Mapping[str, Any], column: str, show: Any = number) -> Cell:
    """The column's figure, or the small-cell text when the views withheld it."""
    value = row.get(column)
    if value is None and row.get(SMALL_CELL_FLAG):
        return Cell(SMALL, small=True)
    return Cell(show(value))


# --- reading the serving version


class Reader:
    def __init__(self, con: duckdb.DuckDBPyConnection, suppressed: Suppression) -> None:
        self.con = con
        self.columns = suppressed_views(con, "serving", suppressed)
        self.publication = {
            row["mart"]: row for row in self._rows("SELECT * FROM serving.meta.publication")
        }

    def _rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, list(parameters))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def rows(self, mart: str, sql: str, parameters: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """``sql`` with ``{mart}`` standing for the mart's small-cell view."""
        return self._rows(sql.replace("{mart}", f"export_{mart}"), parameters)

    def section(self, *marts: str) -> Section:
        state = Section(marts)
        for mart in marts:
            if mart not in self.columns:
                state.missing.append(mart)
            elif (row := self.publication.get(mart)) and row["status"] == "stale":
                kept = row["published_at"]
                state.stale[mart] = (
                    f"publicerad {kept:%Y-%m-%d %H:%M}" if kept else "aldrig publicerad"
                ) + f" ({row['reason']})"
        return state


# --- the sections


def indicators(reader: Reader) -> dict[str, Any]:
    """Indicators by goal area: per reporting year (the last three) value, target, status."""
    state = reader.section("indicator_values")
    if not state.available:
        return {"state": state}
    rows = reader.rows(
        "indicator_values", "SELECT * FROM {mart} ORDER BY sort_order, indicator_id, reporting_year"
    )
    years = sorted({row["reporting_year"] for row in rows})[-3:]
    areas: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        indicator = areas.setdefault(row["goal_area"], {}).setdefault(
            row["indicator_id"], {"name": row["name_sv"], "years": {}}
        )
        if row["reporting_year"] not in years:
            continue
        show = partial(_in_unit, unit=row["unit"], decimals=row["decimals"] or 0)
        value = cell(row, "value", show)
        value.css = STATUS_CLASS.get(row["status"], "none")
        period = row["data_period"]
        indicator["years"][row["reporting_year"]] = {
            "value": value,
            "period": period if period and period != str(row["reporting_year"]) else None,
            "target": show(row["target_value"])
            if row["target_value"] is not None
            else row["target_direction"] or "–",
            "status": cell(row, "status", str),
        }
    return {"state": state, "years": years, "areas": areas}


def _in_unit(value: Any, unit: str | None, decimals: int) -> str:
    """An indicator's figure in its unit (percent, sek_per_user, count, per_100000)."""
    text = number(value, decimals)
    return _unit(text, {"percent": "%", "sek_per_user": "kr"}.get(unit or "", ""))


def survey(reader: Reader) -> dict[str, Any]:
    """Per service and question: the share per year and a small trend chart."""
    state = reader.section("survey_results")
    if not state.available:
        return {"state": state}
    rows = reader.rows(
        "survey_results",
        "SELECT * FROM {mart} WHERE municipality_id = ? ORDER BY service, question_id, year",
        [NORRTALJE],
    )
    years = sorted({row["year"] for row in rows})
    services: dict[str, dict[str, Any]] = {}
    for row in rows:
        question = services.setdefault(row["service_name"] or row["service"], {}).setdefault(
            row["question_id"],
            {
                "area": row["question_area"],
                "text": row["question_text"],
                "answers": row["answer_group"],
                "years": {},
            },
        )
        shown = cell(row, "share_pct", percent)
        if row["share_pct"] is None and not shown.small:
            shown = Cell("ej publicerad" if row["is_suppressed"] else "–")
        question["years"][row["year"]] = shown
        question.setdefault("points", []).append((row["year"], row["share_pct"]))
    for questions in services.values():
        for question in questions.values():
            question["chart"] = _sparkline(question.pop("points"), years)
    return {"state": state, "years": years, "services": services}


def contracts(reader: Reader) -> dict[str, Any]:
    """The latest contract year per area and every open action plan."""
    state = reader.section("contract_followup", "action_plans")
    result: dict[str, Any] = {"state": state}
    if "contract_followup" not in state.missing:
        result["areas"] = reader.rows(
            "contract_followup",
            "SELECT * FROM {mart} WHERE contract_year = (SELECT max(contract_year) FROM {mart}) "
            "ORDER BY area_result = 'godkänd', area_code",
        )
        result["year"] = result["areas"][0]["contract_year"] if result["areas"] else None
    if "action_plans" not in state.missing:
        result["plans"] = reader.rows(
            "action_plans",
            "SELECT * FROM {mart} WHERE is_open ORDER BY contract_year, area_code, plan_id",
        )
    return result


def costs(reader: Reader) -> dict[str, Any]:
    """Cost per user from KSON's ledger, and the Kolada cost KPIs against county and group."""
    state = reader.section("cost_per_user")
    result: dict[str, Any] = {"state": state}
    if state.available:
        rows = reader.rows(
            "cost_per_user",
            "SELECT * FROM {mart} WHERE service IN ? ORDER BY service, year",
            [list(COST_SERVICES)],
        )
        result["years"] = sorted({row["year"] for row in rows})
        result["services"] = {
            COST_SERVICES[service]: {
                row["year"]: {
                    "cost_per_user": cell(row, "cost_per_user", lambda v: _unit(number(v), "kr")),
                    "users": cell(row, "average_users", lambda v: number(v, 1)),
                    "change": cell(row, "cost_per_user_change_pct", lambda v: percent(v, 1)),
                }
                for row in rows
                if row["service"] == service
            }
            for service in COST_SERVICES
        }
    return result


def benchmarks(reader: Reader) -> dict[str, Any]:
    """Norrtälje's cost KPIs in Kolada against the county, its comparison group and Riket."""
    state = reader.section("kpi_benchmark")
    if not state.available:
        return {"state": state}
    rows = reader.rows(
        "kpi_benchmark",
        "SELECT * FROM {mart} WHERE is_followed_up AND kpi_id IN ? ORDER BY kpi_id, year",
        [list(BENCHMARK_KPIS)],
    )
    kpis: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = "lss" if BENCHMARK_KPIS[row["kpi_id"]] == "lss" else "elderly_care"
        kpi = kpis.setdefault(
            row["kpi_id"],
            {
                "title": row["kpi_title"],
                "group": row[f"{group}_group_title"],
                "higher_is_better": row["higher_is_better"],
                "rows": [],
            },
        )
        kpi["rows"].append(
            {
                **row,
                "group_mean": row[f"{group}_group_mean"],
                "group_municipalities": row[f"{group}_group_municipalities"],
            }
        )
    for kpi in kpis.values():
        values = [row["value"] for row in kpi["rows"] if row["value"] is not None]
        # whole kronor for costs; one decimal for shares and deviations in %
        kpi["decimals"] = 0 if all(abs(v) >= 100 or float(v).is_integer() for v in values) else 1
        kpi["chart"] = _comparison_chart(kpi["rows"])
    return {"state": state, "kpis": kpis}


def finances(reader: Reader) -> dict[str, Any]:
    """Member contributions against the agreement, the annual result, reimbursement flags."""
    state = reader.section("member_contributions", "annual_result", "reimbursement_control")
    result: dict[str, Any] = {"state": state}
    if "member_contributions" not in state.missing:
        result["contributions"] = [
            {**row, "member_name": MEMBERS.get(row["member"], row["member"])}
            for row in reader.rows(
                "member_contributions",
                "SELECT * FROM {mart} ORDER BY year, contribution, member",
            )
        ]
    if "annual_result" not in state.missing:
        result["results"] = reader.rows("annual_result", "SELECT * FROM {mart} ORDER BY year")
    if "reimbursement_control" not in state.missing:
        result["deviations"] = reader.rows(
            "reimbursement_control",
            "SELECT year, service, status, count(*) AS months, sum(paid) AS paid, "
            "sum(due) AS due, sum(difference) AS difference FROM {mart} WHERE flagged "
            "GROUP BY ALL ORDER BY ALL",
        )
        result["largest"] = reader.rows(
            "reimbursement_control",
            "SELECT * FROM {mart} WHERE flagged AND difference IS NOT NULL "
            "ORDER BY abs(difference) DESC, month, provider_org_nr LIMIT 10",
        )
    return result


# --- charts


def _sparkline(points: list[tuple[int, Any]], years: list[int]) -> str:
    """A small line chart of a share over the years (inline SVG); gaps where none is shown."""
    shown = [
        {"year": str(year), "share": float(value)} for year, value in points if value is not None
    ]
    if not shown:
        return ""
    chart = (
        alt.Chart(alt.Data(values=shown))
        .mark_line(point=True, color="#1f5f8b")
        .encode(
            x=alt.X(
                "year:O",
                title=None,
                scale=alt.Scale(domain=[str(year) for year in years]),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("share:Q", title=None, scale=alt.Scale(domain=_share_domain(shown))),
        )
        .properties(width=140, height=48)
    )
    return svg(chart)


def _share_domain(points: list[dict[str, Any]]) -> list[float]:
    """At least 10 percentage points around the shares, within 0–100: a change of one point
    is not drawn as a cliff."""
    low, high = min(p["share"] for p in points), max(p["share"] for p in points)
    pad = max(0.0, 10 - (high - low)) / 2 + 1
    return [max(0.0, low - pad), min(100.0, high + pad)]


def _comparison_chart(rows: list[dict[str, Any]]) -> str:
    """Norrtälje against the county's mean, the comparison group's mean and Riket, by year."""
    series = {
        "Norrtälje": "value",
        "Länet (medel)": "county_mean",
        "Liknande kommuner (medel)": "group_mean",
        "Riket": "riket_value",
    }
    points = [
        {"year": str(row["year"]), "series": name, "value": float(row[column])}
        for row in rows
        for name, column in series.items()
        if row[column] is not None
    ]
    if not points:
        return ""
    chart = (
        alt.Chart(alt.Data(values=points))
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N",
                title=None,
                sort=list(series),
                scale=alt.Scale(
                    domain=list(series), range=["#c0392b", "#1f5f8b", "#7fa7c9", "#9aa5ae"]
                ),
                legend=alt.Legend(orient="bottom", columns=2),
            ),
        )
        .properties(width=360, height=160)
    )
    return svg(chart)


def svg(chart: alt.TopLevelMixin) -> str:
    """The chart as SVG markup, numbers in Swedish; no data may be fetched. Drawn again only
    when its spec (its data included) changed since the last report (``ChartCache``)."""
    spec = chart.to_dict()
    cache = _chart_cache.get()
    return cache.svg(spec) if cache is not None else _draw(spec)


def _draw(spec: Mapping[str, Any]) -> str:
    markup = vl_convert.vegalite_to_svg(spec, format_locale="sv-SE", allowed_base_urls=[])
    return markup[markup.index("<svg") :]


@dataclass
class ChartCache:
    """The charts of the last report, as SVG under the hash of their spec and vl-convert's
    version (``reports/.charts/``): a run that changed one mart does not draw the charts of
    the others again (vl-convert takes ~50 ms a chart). Only the charts of the last report
    are kept."""

    folder: Path
    used: set[Path] = field(default_factory=set)

    def svg(self, spec: Mapping[str, Any]) -> str:
        key = json.dumps([vl_convert.__version__, spec], sort_keys=True, default=str)
        path = self.folder / f"{hashlib.sha256(key.encode()).hexdigest()}.svg"
        self.used.add(path)
        if path.is_file():
            return path.read_text(encoding="utf-8")
        markup = _draw(spec)
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".writing")
        staged.write_text(markup, encoding="utf-8")
        os.replace(staged, path)
        return markup

    def prune(self) -> None:
        for path in self.folder.glob("*"):
            if path not in self.used:
                path.unlink(missing_ok=True)


_chart_cache: ContextVar[ChartCache | None] = ContextVar("chart_cache", default=None)


# --- writing


def render(serving_version: Path, suppressed: Suppression, publication: str) -> str:
    """The report's HTML for a serving version."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH {sql_literal(str(serving_version))} AS serving (READ_ONLY)")
        reader = Reader(con, suppressed)
        published = [row["published_at"] for row in reader.publication.values()]
        context = {
            "publication": publication,
            "published_at": max((at for at in published if at), default=None),
            "stale": {
                mart: row["reason"]
                for mart, row in reader.publication.items()
                if row["status"] == "stale"
            },
            "indicators": indicators(reader),
            "survey": survey(reader),
            "contracts": contracts(reader),
            "costs": costs(reader),
            "benchmarks": benchmarks(reader),
            "finances": finances(reader),
        }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(number=number, percent=percent, msek=msek, sek=sek)
    environment.globals.update(
        LABELS, small_text=SMALL, generated=f"{datetime.now():%Y-%m-%d %H:%M}"
    )
    return environment.get_template(TEMPLATE.name).render(**context)


def write_report(serving_db: Path, suppressed: Suppression) -> Path:
    """The report of the version the serving path points at; ``reports/report.html`` then
    points at it. Returns the report's path."""
    version = serving_db.resolve()
    if not serving_db.is_symlink() or not version.is_file():
        raise FileNotFoundError(f"no published serving version at {serving_db}")
    publication = publication_id(serving_db, version)
    folder = reports_dir(serving_db)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{serving_db.stem}-report-{publication}.html"
    staged = path.with_name(f".{path.name}.writing")
    charts = ChartCache(folder / ".charts")
    drawing = _chart_cache.set(charts)
    try:
        staged.write_text(render(version, suppressed, publication), encoding="utf-8")
        fsync_file(staged)
        os.replace(staged, path)
    finally:
        _chart_cache.reset(drawing)
        staged.unlink(missing_ok=True)
    charts.prune()
    point_at(report_link(serving_db), path)
    _prune(serving_db, path)
    return path


def _prune(serving_db: Path, current: Path) -> None:
    """Reports of serving versions no longer kept go; never the one linked, and leftovers of a
    report step that was killed."""
    kept = {
        publication_id(serving_db, version)
        for version in serving_dir(serving_db).glob(f"{serving_db.stem}-*.duckdb")
    }
    for report in reports_dir(serving_db).iterdir():
        if report.name.startswith(".") and report.name.endswith((".writing", ".link")):
            report.unlink(missing_ok=True)
        elif report.name.startswith(f"{serving_db.stem}-report-") and report != current:
            if report_publication(serving_db, report) not in kept:
                report.unlink(missing_ok=True)
