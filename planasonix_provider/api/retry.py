"""The retry policy of DESIGN.md, in one place for both clients.

Two kinds of request are treated differently, because retrying the wrong one starts a remote job
twice:

* Safe requests (reads, cancel, PUT, DELETE) are retried on connection errors, timeouts, 429, 500,
  502, 503 and 504, with exponential backoff and full jitter, honouring ``Retry-After``.
* Creating POSTs (sync, backfill, webhook create, test event, rotate-secret) are retried only where
  the server surely did not act: a connection that was never established, or a 429. A read timeout,
  a dropped connection or a 5xx on them raises :class:`RequestMayHaveBeenProcessedError`.

The policy reads only this package's vocabulary: an error answer as ``errors.error_from_response``
made it (``Retry-After`` parsed there), a failed send as a :class:`~.errors.NotSentError` or
:class:`~.errors.MaybeSentError`. It never sees an httpx or aiohttp type. The two functions at the
end are what both clients do with one attempt: a result, a wait before the next, or the error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from planasonix_provider.api.defaults import (
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_BACKOFF_BASE,
    DEFAULT_RETRY_MAX_WAIT,
)
from planasonix_provider.api.errors import (
    NotSentError,
    PlanasonixAPIError,
    PlanasonixTransportError,
    RequestInfo,
    RequestMayHaveBeenProcessedError,
    SendError,
    error_from_response,
)

if TYPE_CHECKING:
    from planasonix_provider.api.answers import HttpAnswer
    from planasonix_provider.api.operations import Operation

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


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

    def delay_after_send_error(
        self, request: RequestInfo, failure: SendError, *, creates_work: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after a request got no answer, or None to give up.

        Raises :class:`RequestMayHaveBeenProcessedError` for a creating POST whose request may
        have reached the server: anything but a :class:`NotSentError`.
        """
        if creates_work and not isinstance(failure, NotSentError):
            raise RequestMayHaveBeenProcessedError(
                request, f"{failure.name} after the request was sent"
            ) from failure
        if attempt >= self.max_attempts:
            return None
        return self.backoff(attempt)


# --- One attempt, for both clients ------------------------------------------------------------


class Wait:
    """An attempt's answer that calls for another attempt after ``delay`` seconds.

    A plain class, not a dataclass: this module is imported at DAG-parse time, where building a
    dataclass costs measurably (``docs/performance.md``, DAG-parse cost).
    """

    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __repr__(self) -> str:
        return f"Wait({self.delay!r})"


def result_or_wait(
    operation: Operation[T], response: HttpAnswer, retry: RetryPolicy, attempt: int
) -> T | Wait:
    """Read one answer: the parsed result, or how long to wait before the next attempt.

    Raises the error of a final failure.
    """
    if response.is_success:
        return operation.parse(response, operation.info)
    if response.status_code == 409 and operation.conflict_means_not_ready:
        # Only operations whose result type admits None set this flag.
        return cast(T, None)
    error = error_from_response(operation.info, response)
    delay = retry.delay_after_status(error, creates_work=operation.creates_work, attempt=attempt)
    if delay is None:
        raise error
    return Wait(delay)


def wait_after_send_error(
    operation: Operation[Any],
    failure: SendError,
    retry: RetryPolicy,
    attempt: int,
    redact: Callable[[str], str],
) -> float:
    """The wait before retrying after a request got no answer; raises when there is no retry.

    A send error's text can quote what the server sent (a malformed status line, say), so it is
    redacted; when that changed it, the original is not chained, lest a traceback show it.
    """
    text = failure.detail
    detail = redact(text)
    try:
        delay = retry.delay_after_send_error(
            operation.info, failure, creates_work=operation.creates_work, attempt=attempt
        )
    except RequestMayHaveBeenProcessedError as ambiguous:
        if detail != text:
            raise ambiguous from None
        raise
    if delay is None:
        error = PlanasonixTransportError(operation.info, failure, detail=detail)
        if detail != text:
            raise error from None
        raise error from failure
    return delay
