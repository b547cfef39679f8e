"""The client's configuration: base URL, API key, timeouts, pool size, retry policy, checked once.

Both clients build a :class:`ClientSettings` from their arguments, and each sender reads it in its
library's terms. :class:`RetryPolicy` holds the retry values (attempts, backoff, cap on a wait)
and draws the waits; what to retry is decided in ``retry.py``. The defaults live in
``defaults.py``, which imports nothing, for the connection form.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from planasonix_provider import __version__
from planasonix_provider.api.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_BACKOFF_BASE,
    DEFAULT_RETRY_MAX_WAIT,
    DEFAULT_TIMEOUT,
)
from planasonix_provider.api.errors import PlanasonixValidationError
from planasonix_provider.api.redaction import redact_text

USER_AGENT = f"planasonix-airflow-provider/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    :param max_attempts: total attempts per call, the first included (1 disables retries).
    :param backoff_base: seconds; wait n (from 1) is drawn from ``[0, backoff_base * 2**(n-1)]``.
    :param max_wait: cap in seconds on any single wait, ``Retry-After`` included.
    """

    max_attempts: int = DEFAULT_RETRY_ATTEMPTS
    backoff_base: float = DEFAULT_RETRY_BACKOFF_BASE
    max_wait: float = DEFAULT_RETRY_MAX_WAIT
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.max_wait < 0:
            raise ValueError("backoff_base and max_wait must not be negative")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        ceiling = min(self.max_wait, self.backoff_base * (2 ** (attempt - 1)))
        return self.rng.uniform(0.0, ceiling)


def check_api_key(api_key: str | None) -> str:
    if not api_key or not api_key.strip():
        raise PlanasonixValidationError("api_key is missing: every Planasonix request needs one")
    return api_key.strip()


def normalize_base_url(base_url: str | None) -> str:
    """The base URL without a trailing slash; an unusable one fails here, before any request."""
    url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(char.isspace() for char in url)
    ):
        raise PlanasonixValidationError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        # Quote scheme and host only: the rest may hold a password or a key.
        raise PlanasonixValidationError(
            "base_url must not hold credentials, a query or a fragment, got "
            f"{parts.scheme}://{parts.hostname}/... (rest withheld)"
        )
    return url


class ClientSettings:
    """Arguments both clients accept, checked once. Its repr never shows the key.

    Timeouts are held as an ``httpx.Timeout`` (the type the public ``timeout=`` argument takes);
    the aiohttp sender translates them.
    """

    __slots__ = ("_api_key", "base_url", "max_connections", "retry", "timeout")

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._api_key = check_api_key(api_key)
        if isinstance(timeout, httpx.Timeout):
            self.timeout = timeout
        else:
            if timeout <= 0:
                raise PlanasonixValidationError(f"timeout must be positive, got {timeout!r}")
            self.timeout = httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        self.retry = retry or RetryPolicy()
        if max_connections < 1:
            raise PlanasonixValidationError(
                f"max_connections must be at least 1, got {max_connections!r}"
            )
        self.max_connections = max_connections

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def redact(self, text: str) -> str:
        """``text`` without this client's key or any bearer token."""
        return redact_text(text, self._api_key)

    def __repr__(self) -> str:
        return f"ClientSettings(base_url={self.base_url!r}, api_key='***')"
