"""The DORA metrics page of a project: the four figures over a period with their band, the
definitions, and each metric over time as a chart with the performance bands marked.

Every figure comes from ``releases.metrics`` (``compute_metrics`` for the period,
``metrics_over_time`` for the charts); this module only words and draws them. Members of the
project read it; anyone else gets 404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from lib.htmx import SignedInRequest, signed_in
from lib.wording import duration, plural
from releases import forms, metrics
from releases.access import get_project_for, visible_projects
from releases.charts import Band, Chart, band_chart

HOURS = 3600.0
INFINITY = float("inf")


def per_week(value: float) -> str:
    """'7', '1.25', '0.23', '12': two decimals at most, none once it is large."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def percent(rate: float) -> str:
    return f"{rate * 100:.0f} %"


def hours(delta: dt.timedelta | None) -> float | None:
    return delta.total_seconds() / HOURS if delta is not None else None


# The bands of each metric in the units its chart uses, from the thresholds ``metrics`` judges
# by, so the chart and the figure's band can never disagree.
_FREQ = {name: floor * 7 for name, floor in metrics.FREQUENCY_BANDS}  # per week
_LEAD = {name: ceiling.total_seconds() / HOURS for name, ceiling in metrics.LEAD_TIME_BANDS}
_RATE = {name: ceiling * 100 for name, ceiling in metrics.FAILURE_RATE_BANDS}
_RESTORE = {name: ceiling.total_seconds() / HOURS for name, ceiling in metrics.RESTORE_BANDS}

FREQUENCY_BANDS = [
    Band("low", 0, _FREQ["medium"]),
    Band("medium", _FREQ["medium"], _FREQ["high"]),
    Band("high", _FREQ["high"], _FREQ["elite"]),
    Band("elite", _FREQ["elite"], INFINITY),
]


def _lower_is_better(ceilings: dict[str, float]) -> list[Band]:
    return [
        Band("elite", 0, ceilings["elite"]),
        Band("high", ceilings["elite"], ceilings["high"]),
        Band("medium", ceilings["high"], ceilings["medium"]),
        Band("low", ceilings["medium"], INFINITY),
    ]


LEAD_TIME_BANDS = _lower_is_better(_LEAD)
FAILURE_RATE_BANDS = _lower_is_better(_RATE)
RESTORE_BANDS = _lower_is_better(_RESTORE)


def _hours_text(value: float) -> str:
    return duration(dt.timedelta(hours=value))


BAND_TEXTS = {
    "Deployment frequency": [
        ("elite", f"{per_week(_FREQ['elite'])} or more a week (daily)"),
        ("high", f"{per_week(_FREQ['high'])} to {per_week(_FREQ['elite'])} a week"),
        ("medium", f"{_FREQ['medium']:.2f} to {per_week(_FREQ['high'])} a week (monthly)"),
        ("low", "less than monthly"),
    ],
    "Lead time for changes": [
        ("elite", f"under {_hours_text(_LEAD['elite'])}"),
        ("high", f"{_hours_text(_LEAD['elite'])} to {_hours_text(_LEAD['high'])}"),
        ("medium", f"{_hours_text(_LEAD['high'])} to {_hours_text(_LEAD['medium'])}"),
        ("low", f"{_hours_text(_LEAD['medium'])} or more"),
    ],
    "Change failure rate": [
        ("elite", f"{_RATE['elite']:.0f} % or less"),
        ("high", f"up to {_RATE['high']:.0f} %"),
        ("medium", f"up to {_RATE['medium']:.0f} %"),
        ("low", f"over {_RATE['medium']:.0f} %"),
    ],
    "Time to restore": [
        ("elite", f"under {_hours_text(_RESTORE['elite'])}"),
        ("high", f"{_hours_text(_RESTORE['elite'])} to {_hours_text(_RESTORE['high'])}"),
        ("medium", f"{_hours_text(_RESTORE['high'])} to {_hours_text(_RESTORE['medium'])}"),
        ("low", f"{_hours_text(_RESTORE['medium'])} or more"),
    ],
}


@dataclass
class Figure:
    name: str
    key: str
    value: str
    band: str | None
    detail: str
    definition: str
    bands: list[tuple[str, str]]


def figures(m: metrics.Metrics) -> list[Figure]:
    definitions = dict(metrics.DEFINITIONS)
    deploys = len(m.deployments)
    failures = len(m.failures)
    restored = sum(1 for f in m.failures if f.restore_time is not None)
    rows = [
        (
            "Deployment frequency",
            "frequency",
            f"{per_week(m.deploys_per_week)} a week",
            m.frequency_band,
            f"{plural(deploys, 'deploy')} in {round(m.days)} days",
        ),
        (
            "Lead time for changes",
            "lead_time",
            duration(m.lead_time),
            m.lead_time_band,
            f"median of {plural(len(m.lead_times), 'change')}"
            if m.lead_times
            else "no changes shipped",
        ),
        (
            "Change failure rate",
            "failure_rate",
            percent(m.change_failure_rate) if m.change_failure_rate is not None else "—",
            m.failure_rate_band,
            f"{failures} of {deploys} deploys failed" if deploys else "no deploys",
        ),
        (
            "Time to restore",
            "restore",
            duration(m.time_to_restore),
            m.restore_band,
            f"median of {plural(restored, 'restored failure')}"
            if restored
            else ("no failures" if not failures else "no failure restored yet"),
        ),
    ]
    return [
        Figure(name, key, value, band, detail, definitions[name], BAND_TEXTS[name])
        for name, key, value, band, detail in rows
    ]


def _period_label(m: metrics.Metrics) -> str:
    last = m.end - dt.timedelta(microseconds=1)
    if last.date() == m.start.date():
        return f"{m.start:%-d %b}"
    return f"{m.start:%-d %b} – {last:%-d %b}"


def charts(series: list[metrics.Metrics], bucket: dt.timedelta) -> list[Chart]:
    each = "week" if bucket == dt.timedelta(weeks=1) else f"{bucket.days} days"
    periods = [f"{m.start:%-d %b}" for m in series]

    def describe(name: str, unit: str) -> str:
        bands = "; ".join(f"{band} {text}" for band, text in BAND_TEXTS[name])
        return (
            f"{name} for each {each}, {unit}. Shaded bands mark the DORA performance levels: "
            f"{bands}. The table below the charts lists every value."
        )

    frequency = [m.deploys_per_week for m in series]
    lead = [hours(m.lead_time) for m in series]
    rate = [
        m.change_failure_rate * 100 if m.change_failure_rate is not None else None for m in series
    ]
    restore = [hours(m.time_to_restore) for m in series]
    return [
        band_chart(
            key="frequency",
            title="Deployment frequency",
            description=describe("Deployment frequency", "in deploys a week"),
            values=frequency,
            texts=[per_week(v) for v in frequency],
            periods=periods,
            bands=FREQUENCY_BANDS,
            domain=(0.1, 14),
            ticks=[(_FREQ["medium"], f"{_FREQ['medium']:.2f}/w"), (1, "1/w"), (7, "7/w")],
            log=True,
        ),
        band_chart(
            key="lead_time",
            title="Lead time for changes",
            description=describe("Lead time for changes", "the median"),
            values=lead,
            texts=[_hours_text(v) if v is not None else "" for v in lead],
            periods=periods,
            bands=LEAD_TIME_BANDS,
            domain=(0.5, 90 * 24),
            ticks=[(1, "1 h"), (24, "1 d"), (7 * 24, "7 d"), (30 * 24, "30 d")],
            log=True,
        ),
        band_chart(
            key="failure_rate",
            title="Change failure rate",
            description=describe("Change failure rate", "in percent of deploys"),
            values=rate,
            texts=[f"{v:.0f} %" if v is not None else "" for v in rate],
            periods=periods,
            bands=FAILURE_RATE_BANDS,
            domain=(0, 30),
            ticks=[(0, "0 %"), (5, "5 %"), (10, "10 %"), (15, "15 %"), (30, "30 %")],
        ),
        band_chart(
            key="restore",
            title="Time to restore",
            description=describe("Time to restore", "the median"),
            values=restore,
            texts=[_hours_text(v) if v is not None else "" for v in restore],
            periods=periods,
            bands=RESTORE_BANDS,
            domain=(1 / 6, 30 * 24),
            ticks=[(1 / 6, "10 min"), (1, "1 h"), (24, "1 d"), (7 * 24, "7 d")],
            log=True,
        ),
    ]


def rows(series: list[metrics.Metrics]) -> list[dict[str, Any]]:
    return [
        {
            "period": _period_label(m),
            "deploys": len(m.deployments),
            "per_week": per_week(m.deploys_per_week),
            "lead_time": duration(m.lead_time),
            "failure_rate": percent(m.change_failure_rate)
            if m.change_failure_rate is not None
            else "—",
            "failures": len(m.failures),
            "restore": duration(m.time_to_restore),
        }
        for m in series
    ]


@signed_in
def metrics_home(request: SignedInRequest) -> HttpResponse:
    """The header's link: the metrics of the person's first project."""
    project = visible_projects(request.user).order_by("name").first()
    if project is None:
        raise Http404("You belong to no project.")
    return redirect("project_metrics", project.slug)


@signed_in
def project_metrics(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.MetricsForm(request.GET or None)
    context: dict[str, Any] = {
        "project": project,
        "projects": list(visible_projects(request.user).order_by("name")),
        "form": form,
        "presets": forms.PRESET_DAYS,
        "definitions": [(name, text, BAND_TEXTS[name]) for name, text in metrics.DEFINITIONS],
    }
    if form.is_bound and not form.is_valid():
        return render(request, "releases/metrics.html", context)
    now = timezone.now()
    start, end = form.period(now)
    bucket = form.bucket_size(start, end)
    data = form.cleaned_data if form.is_bound else {}
    custom = data.get("start") is not None
    result = metrics.compute_metrics(project, start, end)
    series = metrics.metrics_over_time(project, start, end, bucket=bucket)
    context.update(
        {
            "start": start,
            "end": end,
            "days": None if custom else data.get("days") or 90,
            "metrics": result,
            "figures": figures(result),
            "charts": charts(series, bucket),
            "rows": rows(series),
            "bucket": "week" if bucket == dt.timedelta(weeks=1) else f"{bucket.days} days",
            "url": reverse("project_metrics", args=[project.slug]),
        }
    )
    return render(request, "releases/metrics.html", context)
