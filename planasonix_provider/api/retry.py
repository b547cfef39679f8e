"""The retry policy of DESIGN.md, in one place for both clients.

Two kinds of request are treated differently, because retrying the wrong one starts a remote job
twice:

* Safe requests (reads, cancel, PUT, DELETE) are retried on connection errors, timeouts, 429, 500,
  502, 503 and 504, with exponential backoff and full jitter, honouring ``Retry-After``.
* Creating POSTs (sync, backfill, webhook create, test event, rotate-secret) are retried only where
  the server surely did not act: a connection that was never established, or a 429. A read timeout,
  a dropped connection or a 5xx on them raises :class:`RequestMayHaveBeenProcessedError`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from planasonix_provider.api.defaults import (
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_BACKOFF_BASE,
    DEFAULT_RETRY_MAX_WAIT,
)
from planasonix_provider.api.errors import (
    PlanasonixAPIError,
    RequestInfo,
    RequestMayHaveBeenProcessedError,
)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# Failures that happen before a single byte of the request reached the server.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


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

    def delay_after_status(
        self, error: PlanasonixAPIError, *, creates_work: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after an error status, or None to give up.

        Raises :class:`RequestMayHaveBeenProcessedError` for a creating POST that got a 5xx: the
        server may have started the work before it failed.
        """
        assert error.request is not None
        if creates_work and error.status_code >= 500:
            raise RequestMayHaveBeenProcessedError(
                error.request,
                f"HTTP {error.status_code}: {error.code or 'error'}: {error.api_message}"
                + (f" [request_id={error.request_id}]" if error.request_id else ""),
                status_code=error.status_code,
            ) from error
        if error.status_code not in RETRYABLE_STATUSES:
            return None
        if creates_work and error.status_code != 429:
            return None
        if attempt >= self.max_attempts:
            return None
        return self.backoff(attempt, error.retry_after)

    def delay_after_transport_error(
        self, request: RequestInfo, exc: httpx.TransportError, *, creates_work: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after a transport failure, or None to give up.

        Raises :class:`RequestMayHaveBeenProcessedError` for a creating POST whose request may
        have reached the server.
        """
        if creates_work and not isinstance(exc, NOT_SENT_ERRORS):
            raise RequestMayHaveBeenProcessedError(
                request, f"{type(exc).__name__} after the request was sent"
            ) from exc
        if attempt >= self.max_attempts:
            return None
        return self.backoff(attempt)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # NaN and infinity are no waits
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max((moment - current).total_seconds(), 0.0)
