"""A refusal's sentence is written once, beside its rule (``access.py``) or in the service that
guards the state; pages and API views only pass on what the rule or the service said."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("releases", "monitoring", "approvals", "workspace", "chat", "gate", "subscriptions")

# A refusal raised with a sentence of its own: ``PermissionDenied("…")``, ``NotAllowed(f"…")``.
OWN_SENTENCE = re.compile(r"\b(?:PermissionDenied|NotAllowed|Refused)\(\s*f?[\"']")


def doors() -> list[Path]:
    """Every page and API module: ``views.py``, ``api.py`` and the ``views/``, ``api/`` packages."""
    found: list[Path] = []
    for app in APPS:
        for name in ("views", "api"):
            found.extend((ROOT / app).glob(f"{name}.py"))
            found.extend((ROOT / app / name).glob("*.py"))
    return sorted(found)


def test_it_finds_the_pages_and_api_modules_of_every_app():
    names = {str(path.relative_to(ROOT)) for path in doors()}

    assert {"releases/api/scope.py", "workspace/views/scope.py", "gate/views.py"} <= names
    assert "releases/views/tokens.py" in names


def test_it_writes_no_refusal_sentence_in_a_page_or_api_view():
    written = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, found.start()) + 1}"
        for path in doors()
        for text in [path.read_text()]
        for found in OWN_SENTENCE.finditer(text)
    ]

    assert written == []
