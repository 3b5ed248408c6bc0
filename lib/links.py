"""Links to other sites, as stored and as drawn: absolute http(s) URLs only.

Anything else in an ``href`` is a way to run script in a member's session (``javascript:``,
``data:``) or to start a local program (``ms-msdt:`` and other registered schemes). People's
input is refused with :func:`validate_link`; what providers send is passed through
:func:`http_url`, which keeps a link only when it is one; templates draw links through it too,
so a row written before the check still draws no link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = ("http", "https")
REFUSAL = "Only http:// and https:// links are accepted."
USERINFO_REFUSAL = "A link cannot carry a user name or password."


def http_url(value: object) -> str:
    """``value`` when it is an absolute http(s) URL with a host; "" otherwise."""
    text = str(value or "")
    # Browsers drop control characters and whitespace inside a scheme ("java\tscript:"), and
    # strip them around it: such a value is not a link anyone meant.
    if not text or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        return ""
    if "@" in parts.netloc:
        # A credential in it would be read by everyone the link is shown to, and a name before
        # "@" ("https://github.com@elsewhere/") makes a link look like it goes where it does not.
        return ""
    return text


def has_userinfo(value: str) -> bool:
    """Whether ``value`` carries a user name or password before its host."""
    try:
        return "@" in urlsplit(value).netloc
    except ValueError:
        return False


def validate_link(value: str) -> None:
    """Raise a ValidationError for a non-empty value that is not an http(s) link."""
    if value and not http_url(value):
        if has_userinfo(value):
            raise ValidationError(USERINFO_REFUSAL, code="invalid")
        raise ValidationError(REFUSAL, code="invalid")


def absolute(url: str) -> str:
    """A link of this site as people follow it from an email or a chat message."""
    return settings.SITE_URL.rstrip("/") + url if url.startswith("/") else url
