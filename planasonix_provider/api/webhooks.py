"""Signing and verifying webhook deliveries: an HMAC-SHA256 of the raw body.

The reference says only "HMAC over the raw body" in ``X-Planasonix-Signature``. We sign
``sha256=<hex>``; the verifier accepts every plausible encoding of that HMAC (:data:`ACCEPTED`),
because the real service's exact format is not written down anywhere we can read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Planasonix-Signature"
EVENT_HEADER = "X-Planasonix-Event"
DELIVERY_HEADER = "X-Planasonix-Delivery"
_PREFIX = "sha256="
_DIGEST_SIZE = hashlib.sha256().digest_size

#: The forms of ``X-Planasonix-Signature`` that :func:`verify_signature` accepts.
ACCEPTED = (
    "sha256=<hex> (the form the sandbox and sign_payload send)",
    "<hex>, without a prefix",
    "hex in upper or lower case, and a prefix in either case: sha256=, sha256:, hmac-sha256=, v1=",
    "base64 or base64url of the 32-byte digest, padded or not, with or without the prefix",
    "several of the above separated by commas or spaces (during a secret rotation): one match "
    "is enough",
)

_SEPARATORS = re.compile(r"[,\s]+")
_PREFIXES = re.compile(r"^(?:sha256|hmac-sha256|v1)[=:]", re.IGNORECASE)


class SignatureMismatchError(ValueError):
    """A delivery whose signature does not verify. The message says what form of header
    arrived (never its value, never a secret), so that a format mismatch is quick to see."""


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def sign_payload(body: bytes, secret: str | bytes | SecretStr) -> str:
    """The ``X-Planasonix-Signature`` value for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def _decode(token: str) -> tuple[str, bytes | None]:
    """One signature token as (its form, the digest it encodes, or None if it encodes none)."""
    prefix = _PREFIXES.match(token)
    value = token[prefix.end() :] if prefix else token
    form = (prefix.group(0).lower() if prefix else "") + "{}"
    if len(value) == 2 * _DIGEST_SIZE and all(c in "0123456789abcdefABCDEF" for c in value):
        return form.format("<hex>"), bytes.fromhex(value)
    if value.isascii():
        padded = value + "=" * (-len(value) % 4)
        standard = padded.replace("-", "+").replace("_", "/")  # base64url as base64
        try:
            digest = base64.b64decode(standard, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) == _DIGEST_SIZE:
            return form.format("<base64>"), digest
    return form.format(f"<{len(value)} chars: not a SHA-256 digest>"), None


def _tokens(signature: str) -> list[str]:
    return [token for token in _SEPARATORS.split(signature.strip()) if token]


def verify_signature(
    body: bytes,
    signature: str | None,
    secrets: str | bytes | SecretStr | Iterable[str | bytes | SecretStr],
) -> bool:
    """True when ``signature`` holds the HMAC-SHA256 of the raw ``body`` under one of ``secrets``.

    Accepts the forms in :data:`ACCEPTED`. Pass both the old and the new secret while a rotation
    is rolling out, so that no delivery is rejected in the gap. Every candidate is compared with
    every secret in constant time, so timing says nothing about which one matched. Never raises.
    """
    if not signature or not isinstance(body, bytes | bytearray):
        return False
    candidates = [digest for _, digest in map(_decode, _tokens(signature)) if digest is not None]
    if isinstance(secrets, str | bytes | SecretStr):
        secrets = [secrets]
    matched = False
    for secret in secrets:
        expected = hmac.new(_secret_bytes(secret), bytes(body), hashlib.sha256).digest()
        for candidate in candidates:  # every pair is compared: timing tells nothing
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def describe_signature_header(signature: str | None) -> str:
    """What form of signature header arrived, without its value: for a rejection message."""
    if signature is None:
        return f"no {SIGNATURE_HEADER} header"
    tokens = _tokens(signature)
    if not tokens:
        return f"an empty {SIGNATURE_HEADER} header"
    forms = [form for form, _ in map(_decode, tokens)]
    return f"{len(tokens)} signature(s) in {SIGNATURE_HEADER}: {', '.join(forms)}"


def require_signature(
    body: bytes,
    signature: str | None,
    secrets: str | bytes | SecretStr | Iterable[str | bytes | SecretStr],
) -> None:
    """:func:`verify_signature`, raising :class:`SignatureMismatchError` that says what arrived."""
    if isinstance(secrets, str | bytes | SecretStr):
        secrets = [secrets]
    secrets = list(secrets)
    if verify_signature(body, signature, secrets):
        return
    raise SignatureMismatchError(
        f"the webhook signature does not verify against {len(secrets)} secret(s): got "
        f"{describe_signature_header(signature)}. Accepted: an HMAC-SHA256 of the raw body as "
        "sha256=<hex>, bare hex, or base64; check that the body is the raw bytes received and "
        "that the secret is the subscription's current (or previous) signing secret."
    )
