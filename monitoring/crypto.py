"""Integration credentials at rest: the encryption lives in :mod:`lib.crypto`, which has no
domain, so that every app stores its credentials the same way."""

from lib.crypto import (
    SecretsUnreadable,
    decrypt_secrets,
    encrypt_secrets,
    fernet,
    rotate_token,
)

__all__ = ["SecretsUnreadable", "decrypt_secrets", "encrypt_secrets", "fernet", "rotate_token"]
