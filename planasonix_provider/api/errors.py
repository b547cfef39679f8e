"""The exception tree of the client.

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
"""

from __future__ import annotations

from dataclasses import dataclass


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
    """No usable answer: the connection failed, timed out or was dropped."""

    def __init__(
        self, request: RequestInfo, cause: Exception, *, detail: str | None = None
    ) -> None:
        self.request = request
        self.cause_name = type(cause).__name__
        detail = str(cause) if detail is None else detail
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
