"""A small chart drawn on the server: one value per period as points on a line, over horizontal
bands (the DORA performance bands). Geometry is computed here; ``templates/releases/_chart.html``
only draws it.

Every point carries its value as text on the chart, so it reads without hovering; a value that
is unknown for a period (no deploys, no failures) leaves a gap rather than a misleading zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 600
HEIGHT = 240
LEFT = 62  # axis labels
RIGHT = 62  # band names
TOP = 26  # room for the value above the highest point
BOTTOM = 40  # period labels
MAX_PERIOD_LABELS = 10
TICK_ROOM = 12  # a tick label closer than this to the previous one is left out
# Closer than this, neighbouring values alternate above and below their points.
LABEL_ROOM = 36


@dataclass(frozen=True)
class Band:
    """A band in value space: ``lower`` to ``upper`` (the chart clips it to its domain)."""

    name: str  # elite | high | medium | low: the CSS class and, capitalised, the label
    lower: float
    upper: float

    @property
    def label(self) -> str:
        return self.name.capitalize()


@dataclass
class Area:
    name: str
    label: str
    y: float
    height: float

    @property
    def label_y(self) -> float:
        return round(self.y + self.height / 2 + 4, 1)

    @property
    def labelled(self) -> bool:
        # Too thin a band keeps its colour; its name would overlap the next one's.
        return self.height >= 14


@dataclass
class Point:
    x: float
    y: float | None  # None: no value for this period
    text: str
    period: str
    text_y: float = 0.0
    label: bool = False  # whether the period name is written under the axis


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class Chart:
    key: str
    title: str
    description: str
    areas: list[Area]
    ticks: list[Tick]
    points: list[Point]
    segments: list[str] = field(default_factory=list)  # polyline point lists, split at gaps
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def plot_width(self) -> int:
        return self.right - self.left

    @property
    def label_x(self) -> int:
        return self.right + 6

    @property
    def axis_y(self) -> int:
        return self.bottom + 16


def band_chart(
    *,
    key: str,
    title: str,
    description: str,
    values: Sequence[float | None],
    texts: list[str],
    periods: list[str],
    bands: list[Band],
    domain: tuple[float, float],
    ticks: list[tuple[float, str]],
    log: bool = False,
) -> Chart:
    """Lay out ``values`` (one per period) over ``bands`` on a linear or logarithmic axis.

    The domain grows to hold every value; on a log axis values at or below its floor (zero
    deploys) sit on the floor and keep their true text.
    """
    lo, hi = domain
    present = [v for v in values if v is not None]
    if present:
        hi = max(hi, max(present) * 1.15)
    y_of = _scale(lo, hi, log)

    areas = []
    for band in bands:
        upper, lower = min(band.upper, hi), max(band.lower, lo)
        if upper <= lower:
            continue
        top, bottom = y_of(upper), y_of(lower)
        areas.append(Area(band.name, band.label, top, round(bottom - top, 1)))

    step = (WIDTH - RIGHT - LEFT) / max(len(values), 1)
    every = math.ceil(len(values) / MAX_PERIOD_LABELS) if values else 1
    points = []
    for index, (value, text, period) in enumerate(zip(values, texts, periods, strict=True)):
        x = round(LEFT + step * (index + 0.5), 1)
        y = y_of(value) if value is not None else None
        point = Point(x=x, y=y, text=text, period=period, label=index % every == 0)
        if y is not None:
            below = (step < LABEL_ROOM and index % 2) or y - 9 < TOP - 8
            point.text_y = round(y + 16 if below else y - 9, 1)
        points.append(point)

    segments: list[str] = []
    current: list[str] = []
    for point in points:
        if point.y is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
        else:
            current.append(f"{point.x},{point.y}")
    if len(current) > 1:
        segments.append(" ".join(current))

    return Chart(
        key=key,
        title=title,
        description=description,
        areas=areas,
        ticks=_spaced([Tick(y_of(value), label) for value, label in ticks if lo <= value <= hi]),
        points=points,
        segments=segments,
    )


def _spaced(ticks: list[Tick]) -> list[Tick]:
    kept: list[Tick] = []
    for tick in sorted(ticks, key=lambda t: -t.y):  # from the bottom up
        if not kept or kept[-1].y - tick.y >= TICK_ROOM:
            kept.append(tick)
    return kept


def _scale(lo: float, hi: float, log: bool) -> Callable[[float], float]:
    top, bottom = TOP, HEIGHT - BOTTOM

    def y_of(value: float) -> float:
        value = min(max(value, lo), hi)
        if log:
            fraction = (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            fraction = (value - lo) / (hi - lo)
        return round(bottom - fraction * (bottom - top), 1)

    return y_of
