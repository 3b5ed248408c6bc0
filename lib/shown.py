"""What a page works out once per listed object, attached for its template to read."""

from __future__ import annotations

from typing import Any


def show_with[T](obj: T, **values: Any) -> T:
    """``obj`` with each of ``values`` as an attribute (``item.can_tick``) for the template that
    lists it: worked out once by the page, and no part of the model."""
    for name, value in values.items():
        setattr(obj, name, value)
    return obj
