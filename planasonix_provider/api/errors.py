"""The exception tree of the client, and how an error answer or a failed send becomes one of it.

Every error raised by a client call is a :class:`PlanasonixError`. Each message names the
operation, the method and path, the HTTP status, the API's error code, message and request id
where there are any, so that a task log alone says what went wrong. No message ever holds the
API key: only paths are quoted, never headers.

::

    PlanasonixError
    ├── PlanasonixValidationError       bad input, caught before any request (also a ValueError)
    ├── PlanasonixAPIError              the API answered with an error status
    │   ├── BadRequestError             400, 422
    │   ├── AuthenticationError         401, 403
    │   │   └── PermissionDeniedError   403
    │   ├── NotFoundError               404
    │   ├── ConflictError               409
    │   ├── RateLimitedError            429
    │   └── ServerError                 5xx
    ├── PlanasonixTransportError        no answer: connection refused, DNS, timeout, reset
    ├── ResponseParseError              an answer that is not the JSON the contract promises
    └── RequestMayHaveBeenProcessedError  a creating POST failed ambiguously: work may have started

Below the public tree, the senders' own vocabulary for a request that got no answer
(:class:`SendError`): :class:`NotSentError` (it never left) or :class:`MaybeSentError` (it may have
reached the server). Each sender maps its HTTP library's errors into these two, as httpx maps
httpcore's into its own, so that the retry policy reads one vocabulary whichever library sent.
A client call never lets them out: it raises :class:`PlanasonixTransportError` or
:class:`RequestMayHaveBeenProcessedError` instead.

:func:`error_from_response` reads an error answer, its ``Retry-After`` hint included
(:func:`parse_retry_after`), so that the retry policy depends on this module and never the reverse.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from planasonix_provider.api.redaction import key_of, redact_optional, redact_text

if TYPE_CHECKING:
    from planasonix_provider.api.answers import HttpAnswer

#: How much of an unexpected body an error message quotes.
ERROR_BODY_EXCERPT = 200


@dataclass(frozen=True)
class RequestInfo:
    """What an error message says about the request: never headers, so never the key."""

    operation: str
    method: str
    path: str

    def describe(self) -> str:
        return f"{self.operation} ({self.method} {self.path})"


class PlanasonixError(Exception):
    """Base of every error the Planasonix client raises."""

    request: RequestInfo | None = None


class PlanasonixValidationError(PlanasonixError, ValueError):
    """Input that the API would reject, caught before anything is sent."""


class PlanasonixAPIError(PlanasonixError):
    """The API answered with an error status."""

    hint = ""

    def __init__(
        self,
        request: RequestInfo,
        status_code: int,
        *,
        code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.request = request
        self.status_code = status_code
        self.code = code
        self.api_message = message
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        assert self.request is not None
        parts = [f"Planasonix {self.request.describe()} failed with HTTP {self.status_code}"]
        if self.code or self.api_message:
            parts.append(f": {self.code or 'error'}: {self.api_message or '(no message)'}")
        if self.request_id:
            parts.append(f" [request_id={self.request_id}]")
        if self.hint:
            parts.append(f". {self.hint}")
        return "".join(parts)


class BadRequestError(PlanasonixAPIError):
    hint = "The API rejected the request body or parameters: fix the field it names."


class AuthenticationError(PlanasonixAPIError):
    hint = (
        "The API key was refused: check the password (API key) of the Airflow connection "
        "and that the base URL points at the right Planasonix deployment."
    )


class PermissionDeniedError(AuthenticationError):
    hint = "The API key is valid but lacks the scope for this operation: grant it in Planasonix."


class NotFoundError(PlanasonixAPIError):
    hint = "Check the id, and that the connection's base URL is the right Planasonix deployment."


class ConflictError(PlanasonixAPIError):
    pass


class RateLimitedError(PlanasonixAPIError):
    hint = "Rate limited and out of retries: raise the poll interval or the retry settings."


class ServerError(PlanasonixAPIError):
    hint = "Planasonix had an internal error; retries were exhausted."


class PlanasonixTransportError(PlanasonixError):
    """No usable answer: the connection failed, timed out or was dropped.

    ``cause_name`` names the kind of failure (``ConnectError``, ``ReadTimeout``...), the same
    whichever HTTP library sent the request.
    """

    def __init__(
        self, request: RequestInfo, cause: SendError, *, detail: str | None = None
    ) -> None:
        self.request = request
        self.cause_name = cause.name
        detail = cause.detail if detail is None else detail
        super().__init__(
            f"Planasonix {request.describe()} got no answer ({self.cause_name}: {detail}). "
            "Check the connection's base URL and that the host is reachable."
        )


class ResponseParseError(PlanasonixError):
    """An answer that is not what the contract promises: not JSON, or missing fields."""

    def __init__(self, request: RequestInfo, status_code: int, problem: str) -> None:
        self.request = request
        self.status_code = status_code
        self.problem = problem
        super().__init__(
            f"Planasonix {request.describe()} returned HTTP {status_code} with a body the "
            f"provider cannot use: {problem}"
        )


class RequestMayHaveBeenProcessedError(PlanasonixError):
    """A POST that creates work failed in a way that leaves open whether the server acted.

    It is never retried: a retry could start a second job. Look the work up before starting it
    again, from what the API promises to list (connection, type, creation time):
    :func:`planasonix_provider.api.recovery.find_started_work` does it, and answers "cannot tell"
    rather than "nothing" when it cannot tell.
    """

    def __init__(
        self, request: RequestInfo, reason: str, *, status_code: int | None = None
    ) -> None:
        self.request = request
        self.status_code = status_code
        self.reason = reason
        super().__init__(
            f"Planasonix {request.describe()} failed ambiguously ({reason}); the request may "
            "have been processed and a job may have started. It was not retried, to avoid "
            "starting the work twice: look for work of this connection created since the "
            "request (planasonix_provider.api.recovery.find_started_work, or the Planasonix UI) "
            "before running it again."
        )


STATUS_ERRORS: dict[int, type[PlanasonixAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitedError,
}


def error_class_for(status_code: int) -> type[PlanasonixAPIError]:
    if status_code >= 500:
        return ServerError
    return STATUS_ERRORS.get(status_code, PlanasonixAPIError)


# --- A request without an answer, in our own terms ------------------------------------------


class SendError(Exception):
    """A request that got no answer, as a sender reports it, whichever library carried it.

    Raise one of the two subclasses: what matters to the retry policy is only whether the request
    can have reached the server. ``name`` is the kind of failure, in the words httpx uses for it
    (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``...), so that messages read the same
    with either library; ``detail`` is the library's own text.
    """

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name
        self.detail = detail


class NotSentError(SendError):
    """The request never left: refused, unresolvable, TLS failed, connect or pool wait timed out.

    Safe to retry for every request, a POST that starts work included.
    """


class MaybeSentError(SendError):
    """The request may have reached the server: a read timeout, a dropped connection, an answer
    that could not be read. A POST that starts work is never retried after one."""


# --- An error answer -> the exception --------------------------------------------------------


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


def excerpt(response: HttpAnswer) -> str:
    """The start of an unexpected body, for an error message, with our own key (and any bearer
    token) blanked out in case a proxy echoed the request's headers back."""
    key = key_of(response)
    content_type = redact_text(response.headers.get("content-type", "no content-type"), key)
    text = redact_text(" ".join(response.text.split()), key)
    if len(text) > ERROR_BODY_EXCERPT:
        text = text[:ERROR_BODY_EXCERPT] + "..."
    return f"({content_type}) {text!r}"


def _error_fields(content: bytes) -> tuple[str | None, str | None, str | None] | None:
    """``(code, message, request_id)`` of an error body: the envelope of DESIGN.md, or the
    shapes the reference leaves open (``error`` as a string, fields missing). None: no envelope."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error.strip():
        return None, error, _text(body.get("request_id"))
    if not isinstance(error, dict):
        return None
    code, message = _text(error.get("code")), _text(error.get("message"))
    request_id = _text(error.get("request_id")) or _text(body.get("request_id"))
    if code is None and message is None:
        return None
    return code, message, request_id


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value) or None


def error_from_response(request: RequestInfo, response: HttpAnswer) -> PlanasonixAPIError:
    """The exception for an error status, from the error envelope or whatever came instead.

    Every text the server chose (code, message, request id, body, content type) is redacted."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    cls = error_class_for(response.status_code)
    fields = _error_fields(response.content) if response.content else None
    if fields is None:
        body = excerpt(response) if response.content else "(empty body)"
        return cls(
            request,
            response.status_code,
            message=f"no error envelope in the response: {body}",
            retry_after=retry_after,
        )
    key = key_of(response)
    code, message, request_id = (redact_optional(value, key) for value in fields)
    return cls(
        request,
        response.status_code,
        code=code,
        message=message,
        request_id=request_id,
        retry_after=retry_after,
    )
