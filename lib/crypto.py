"""Credentials at rest (integrations, signing secrets): a JSON object encrypted with MultiFernet.

The keys come from ``settings.FERNET_KEYS``, newest first. MultiFernet encrypts with the first key
and decrypts with any of them, so rotation is: prepend a new key, run ``manage.py rotate_secrets``
(which re-encrypts every stored secret under the new key), then drop the old key.
"""

from __future__ import annotations

import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretsUnreadable(Exception):
    """The stored ciphertext was written under a key that is no longer configured."""


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS is empty: integration credentials need a key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        # Never echo the key itself.
        raise ImproperlyConfigured(
            "FERNET_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def fernet() -> MultiFernet:
    # Cached per key list, so tests that override FERNET_KEYS get the keys they set.
    return _fernet_for(tuple(k.strip() for k in settings.FERNET_KEYS if k.strip()))


def encrypt_secrets(secrets: dict[str, str]) -> str:
    """Ciphertext for ``secrets``; an empty dict is stored as an empty string."""
    if not secrets:
        return ""
    return fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        plain = fernet().decrypt(token.encode())
    except InvalidToken as exc:
        raise SecretsUnreadable(
            "The stored credentials cannot be decrypted with the configured FERNET_KEYS "
            "(was a key removed before rotate_secrets ran?). Enter the credentials again."
        ) from exc
    data = json.loads(plain)
    return {str(k): str(v) for k, v in data.items()}


def rotate_token(token: str) -> str:
    """The same secret encrypted under the newest key (the original timestamp is kept)."""
    if not token:
        return token
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretsUnreadable("Cannot be decrypted with any configured key.") from exc
