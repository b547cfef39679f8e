"""An Airflow Connection's fields, checked and turned into client settings.

Every problem names the connection id and the field, so that a typo in a connection is found by
reading one error line. Kept free of Airflow imports so that it is cheap and testable alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from planasonix_provider.api.defaults import (
    DEFAULT_HTTP_TRANSPORT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_MAX_WAIT,
    DEFAULT_TIMEOUT,
    HTTP_TRANSPORTS,
)
from planasonix_provider.api.errors import PlanasonixValidationError
from planasonix_provider.api.retry import RetryPolicy
from planasonix_provider.hooks.asset_naming import check_uri_template
from planasonix_provider.hooks.connection_form import CONN_FIELDS


class PlanasonixConnectionError(PlanasonixValidationError):
    """An Airflow connection that cannot make a working client."""


@dataclass(frozen=True)
class ConnectionSettings:
    conn_id: str
    base_url: str
    api_key: str
    timeout: float
    retry: RetryPolicy
    max_connections: int
    http_transport: str
    job_url_template: str | None
    asset_uri_template: str | None = None
    lineage_source_namespace: str | None = None
    lineage_destination_namespace: str | None = None

    def __repr__(self) -> str:
        return f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    @classmethod
    def parse(
        cls,
        conn_id: str,
        *,
        host: str | None,
        port: int | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> ConnectionSettings:
        def fail(field: str, problem: str) -> PlanasonixConnectionError:
            return PlanasonixConnectionError(
                f"Airflow connection {conn_id!r}: {field} {problem}. Fix it in the connection "
                "(Admin > Connections, or the AIRFLOW_CONN_* variable)."
            )

        unknown = sorted(set(extra) - set(CONN_FIELDS))
        if unknown:
            raise fail(
                f"extra field(s) {', '.join(map(repr, unknown))}",
                f"are not known; the known ones are {', '.join(CONN_FIELDS)}",
            )
        if not password or not password.strip():
            raise fail("password (the API key)", "is empty; set it to your Planasonix API key")
        try:
            # The client's configuration module (httpx) stays out of DAG parsing.
            from planasonix_provider.api.config import normalize_base_url

            base_url = normalize_base_url(_with_scheme(host, port))
        except PlanasonixValidationError as exc:
            # The client's message quotes only what is safe to show of the URL.
            raise fail("host (the base URL)", f"is not usable: {exc}") from None
        transport = str(extra.get("http_transport") or DEFAULT_HTTP_TRANSPORT)
        if transport not in HTTP_TRANSPORTS:
            raise fail("extra field 'http_transport'", f"must be one of {HTTP_TRANSPORTS}")
        template = extra.get("job_url_template") or None
        if template is not None and "{" not in str(template):
            raise fail("extra field 'job_url_template'", "must hold a {job_id} placeholder")
        asset_template = extra.get("asset_uri_template") or None
        if asset_template is not None:
            try:
                check_uri_template(str(asset_template), "template")
            except ValueError as exc:
                raise fail("extra field 'asset_uri_template'", str(exc)) from None
        attempts = _number(extra, "retry_attempts", DEFAULT_RETRY_ATTEMPTS, int, 1, fail)
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            api_key=password.strip(),
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, float, 0.1, fail),
            retry=RetryPolicy(
                max_attempts=attempts,
                max_wait=_number(extra, "retry_max_wait", DEFAULT_RETRY_MAX_WAIT, float, 0.0, fail),
            ),
            max_connections=_number(
                extra, "max_connections", DEFAULT_MAX_CONNECTIONS, int, 1, fail
            ),
            http_transport=transport,
            job_url_template=None if template is None else str(template),
            asset_uri_template=None if asset_template is None else str(asset_template),
            lineage_source_namespace=_text(extra, "lineage_source_namespace"),
            lineage_destination_namespace=_text(extra, "lineage_destination_namespace"),
        )

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments both clients take from the connection."""
        return {
            "timeout": self.timeout,
            "retry": self.retry,
            "max_connections": self.max_connections,
        }

    def resource_url(self, kind: str, resource_id: str) -> str:
        """The web page of a job or backfill, for the task's extra link."""
        if self.job_url_template:
            return self.job_url_template.format(
                base_url=self.base_url, job_id=resource_id, backfill_id=resource_id
            )
        parts = urlsplit(self.base_url)
        host = parts.netloc
        if host.startswith("api."):
            host = "app." + host[len("api.") :]
        return f"{parts.scheme}://{host}/{kind}s/{resource_id}"


def _with_scheme(host: str | None, port: int | None) -> str | None:
    """The host field holds a full URL; a bare host name (the URI form) means https.

    A port field goes into the URL's authority, before any path (``https://proxy/planasonix``
    with port 8443 is ``https://proxy:8443/planasonix``); a URL that names another port is an
    error, since one of the two would be silently ignored.
    """
    if not host:
        return host
    if "://" not in host:
        host = f"https://{host}"
    if not port:
        return host
    parts = urlsplit(host)
    try:
        named = parts.port
    except ValueError:
        named = None  # an unusable port: normalize_base_url says so
    if named is not None and named != int(port):
        raise PlanasonixValidationError(
            f"names port {named} in the URL and {port} in the port field; keep one of them"
        )
    if named is None and parts.hostname:
        netloc = parts.netloc
        hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        end = netloc.lower().rindex(hostname) + len(hostname)
        netloc = netloc[:end] + f":{int(port)}"
        host = parts._replace(netloc=netloc).geturl()
    return host


def _text(extra: Mapping[str, Any], field: str) -> str | None:
    raw = extra.get(field)
    return str(raw).strip() or None if raw is not None else None


def _number(
    extra: Mapping[str, Any],
    field: str,
    default: Any,
    kind: type,
    minimum: float,
    fail: Callable[[str, str], PlanasonixConnectionError],
) -> Any:
    raw = extra.get(field)
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw) if kind is float else int(str(raw))
    except (TypeError, ValueError):
        noun = "a number" if kind is float else "an integer"
        raise fail(f"extra field {field!r}", f"must be {noun}, got {raw!r}") from None
    if value < minimum:
        raise fail(f"extra field {field!r}", f"must be at least {minimum}, got {raw!r}")
    return value
