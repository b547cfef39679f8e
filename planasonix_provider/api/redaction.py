"""Blank the API key out of anything a server sends back, before it reaches an error or a log.

Why: a proxy or a misbehaving service may echo the request (its ``Authorization`` header, or the
key itself) in an error message, an error code, a header or an HTML page. Nothing a server sends
is trusted to be free of our secret, so every server-provided text passes through here first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from planasonix_provider.api.answers import HttpAnswer

MASK = "***"

# A bearer token or an Authorization header value, whatever the key: also someone else's key.
# Compiled on first use (re caches them), not at import: this module is imported at DAG-parse
# time through errors.py, and redacts only on error paths.
_BEARER = r"(?i)(\bbearer\s+)[^\s\"',;<>&]+"
_AUTH_HEADER = r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)[^\r\n\"',;<>&\s]+"


def key_of(response: HttpAnswer) -> str:
    """The API key the request carried, read back from its Authorization header."""
    try:
        authorization = response.request.headers.get("authorization", "") or ""
    except RuntimeError:  # an httpx response built without a request
        return ""
    return authorization.partition(" ")[2].strip()


def redact_text(text: str, key: str) -> str:
    """``text`` with the key (raw or percent-encoded) and any bearer token replaced by ``***``."""
    if key:
        for form in {key, quote(key, safe="")}:
            text = text.replace(form, MASK)
    text = re.sub(_BEARER, lambda m: m.group(1) + MASK, text)
    return re.sub(_AUTH_HEADER, lambda m: m.group(1) + MASK, text)


def redact_optional(text: str | None, key: str) -> str | None:
    return None if text is None else redact_text(text, key)


def redacted_body(response: HttpAnswer) -> bytes:
    """The body with our key blanked out; parsed only through this, so the key never reaches
    a model, an XCom or a message. Untouched (no copy) when the key is not in it."""
    content = response.content
    key = key_of(response)
    if not key or key.encode() not in content:
        return content
    return content.replace(key.encode(), MASK.encode())
