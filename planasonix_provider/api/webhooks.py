"""Signing and verifying webhook deliveries: ``sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Planasonix-Signature"
EVENT_HEADER = "X-Planasonix-Event"
DELIVERY_HEADER = "X-Planasonix-Delivery"
_PREFIX = "sha256="


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def sign_payload(body: bytes, secret: str | bytes | SecretStr) -> str:
    """The ``X-Planasonix-Signature`` value for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(
    body: bytes,
    signature: str | None,
    secrets: str | bytes | SecretStr | Iterable[str | bytes | SecretStr],
) -> bool:
    """True when ``signature`` is the HMAC of the raw ``body`` under one of ``secrets``.

    Accepts ``sha256=<hex>`` or bare hex. Pass both the old and the new secret while a rotation
    is rolling out, so that no delivery is rejected in the gap. Every candidate is compared in
    constant time, and all of them are compared, so timing says nothing about which one matched.
    """
    if not signature or not isinstance(body, bytes | bytearray):
        return False
    candidate = signature.strip()
    if candidate.lower().startswith(_PREFIX):
        candidate = candidate[len(_PREFIX) :]
    candidate = candidate.lower()
    if not candidate.isascii():  # compare_digest refuses non-ASCII text: not a signature anyway
        return False
    if isinstance(secrets, str | bytes | SecretStr):
        secrets = [secrets]
    matched = False
    for secret in secrets:
        expected = hmac.new(_secret_bytes(secret), bytes(body), hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, candidate)
    return matched
