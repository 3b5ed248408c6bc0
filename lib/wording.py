"""How numbers read in sentences people see: one pluraliser for the whole project."""

from __future__ import annotations

# The verbs that change with the count in Greenlight's sentences.
PLURAL_VERBS = {"is": "are", "has": "have", "was": "were"}


def plural(count: int, noun: str, verb: str = "") -> str:
    """'1 item', '3 items'; with a verb, '1 item is', '3 items are'."""
    text = f"{count} {noun}{'' if count == 1 else 's'}"
    if verb:
        text += " " + (verb if count == 1 else PLURAL_VERBS.get(verb, verb))
    return text
