"""Template tags for checks: ``{% load checks %}{% check_sparkline check %}``.

The sparkline is a small SVG drawn on the server: the check's status over time, one coloured
band per status, each as wide as the time it lasted (with a minimum so a short failure stays
visible). Load the checks with ``monitoring.selectors.with_history`` so a page of checks draws
all its sparklines from one query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import template
from django.utils import timezone

from lib.wording import duration
from monitoring.models import Check, CheckResult, CheckStatus
from monitoring.selectors import SPARKLINE_RESULTS

register = template.Library()

COLOURS: dict[str, str] = {
    CheckStatus.PASSING: "#1a7f3c",
    CheckStatus.FAILING: "#b42318",
    CheckStatus.ERROR: "#d97706",
    CheckStatus.NEEDS_JUDGEMENT: "#7c3aed",
    CheckStatus.PENDING: "#9aa3b2",
}
MIN_BAND = 2.0  # px: a status that lasted a moment is still seen


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    status: str
    colour: str
    title: str


def _widths(spans: list[float], width: float) -> list[float]:
    """Proportional widths summing to ``width``, none below MIN_BAND when there is room."""
    total = sum(spans) or 1.0
    widths = [width * s / total for s in spans]
    if MIN_BAND * len(spans) > width:
        return [width / len(spans)] * len(spans)
    small = [w < MIN_BAND for w in widths]
    room = width - MIN_BAND * sum(small)
    big_total = sum(w for w, s in zip(widths, small, strict=True) if not s) or 1.0
    return [MIN_BAND if s else w * room / big_total for w, s in zip(widths, small, strict=True)]


def bands(
    results: list[CheckResult], *, width: float, now: dt.datetime | None = None
) -> list[Band]:
    """``results`` newest first (as stored) → bands oldest to newest across ``width``."""
    if not results:
        return []
    now = now or timezone.now()
    ordered = sorted(results, key=lambda r: (r.observed_at, r.pk or 0))
    ends = [r.observed_at for r in ordered[1:]] + [now]
    spans = [
        max((end - r.observed_at).total_seconds(), 0.0)
        for r, end in zip(ordered, ends, strict=True)
    ]
    out, x = [], 0.0
    for result, end, band_width in zip(ordered, ends, _widths(spans, width), strict=True):
        label = CheckStatus(result.status).label
        lasted = duration(end - result.observed_at)
        title = f"{label} from {result.observed_at:%d %b %H:%M} for {lasted}"
        if result.value:
            title += f" ({result.value})"
        out.append(Band(x, band_width, result.status, COLOURS[result.status], title))
        x += band_width
    return out


def _results(check: Check) -> list[CheckResult]:
    prefetched = getattr(check, "recent_results", None)
    if prefetched is not None:
        return list(prefetched)
    return list(check.results.order_by("-observed_at", "-pk")[:SPARKLINE_RESULTS])


@register.inclusion_tag("monitoring/_sparkline.html")
def check_sparkline(check: Check, width: int = 120, height: int = 14) -> dict[str, Any]:
    """The check's status history as an inline SVG (``width`` × ``height`` px)."""
    drawn = bands(_results(check), width=float(width))
    summary = ", ".join(f"{CheckStatus(b.status).label.lower()}" for b in drawn[-5:])
    return {
        "bands": drawn,
        "width": width,
        "height": height,
        "label": (
            f"Status history of {check.name}: {summary} (latest last)"
            if drawn
            else f"{check.name} has no results yet"
        ),
    }
