"""How a delivery is signed, and the reference check a receiver makes.

``X-Greenlight-Signature: sha256=<hex>`` is an HMAC-SHA256, keyed with the subscription's
secret, of ``<timestamp>.<raw body>`` where the timestamp is ``X-Greenlight-Timestamp`` (Unix
seconds, when the attempt was sent). Signing the timestamp with the body lets a receiver refuse
an old delivery replayed by whoever captured it; ``X-Greenlight-Delivery`` lets it ignore one
it has already acted on.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Greenlight-Signature"
TIMESTAMP_HEADER = "X-Greenlight-Timestamp"
DELIVERY_HEADER = "X-Greenlight-Delivery"
EVENT_HEADER = "X-Greenlight-Event"
PREFIX = "sha256="
# What the reference check accepts between sending and receiving, either way (clock skew).
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret: str, *, timestamp: int, body: bytes, guid: str, event: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: guid,
        EVENT_HEADER: event,
    }


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: a recent timestamp, and the signature compared in constant time
    over the exact bytes received."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body).encode(), signature.strip().encode())
