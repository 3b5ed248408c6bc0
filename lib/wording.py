"""How numbers and names read in sentences people see: one pluraliser, one duration and one
label for a stored field name, for the whole project."""

from __future__ import annotations

import datetime as dt

# The verbs that change with the count in Greenlight's sentences.
PLURAL_VERBS = {"is": "are", "has": "have", "was": "were"}


def plural(count: int, noun: str, verb: str = "") -> str:
    """'1 item', '3 items'; with a verb, '1 item is', '3 items are'."""
    text = f"{count} {noun}{'' if count == 1 else 's'}"
    if verb:
        text += " " + (verb if count == 1 else PLURAL_VERBS.get(verb, verb))
    return text


# Parts of stored names that are written in capitals.
ACRONYMS = {"url": "URL", "json": "JSON", "sha": "SHA", "api": "API", "ci": "CI", "id": "ID"}


def field_label(name: str) -> str:
    """'json_field' → 'JSON field', 'cadence_weeks' → 'Cadence weeks': a stored name as a
    person reads it, where no label was written for it."""
    words = [ACRONYMS.get(word, word) for word in name.split("_") if word]
    if not words:
        return name
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def duration(value: dt.timedelta | float | None) -> str:
    """'45 s', '42 min', '3.5 h', '2.3 d': how long (a timedelta or seconds), short enough for a
    chart label and the same in every sentence."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 86400:
        return _one_decimal(seconds / 3600, "h")
    return _one_decimal(seconds / 86400, "d")


def _one_decimal(value: float, unit: str) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"
