"""PlanasonixHook: the Planasonix client on an Airflow connection of type ``planasonix``.

The hook reads the connection, checks its fields once (:class:`ConnectionSettings`: every problem
names the connection id and the field, so that a typo is found by reading one error line) and
builds the client from them: the way from an operator to the client stays in this one module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from planasonix_provider.airflow_lines import AirflowException, BaseHook, has
from planasonix_provider.api.defaults import (
    DEFAULT_HTTP_TRANSPORT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_MAX_WAIT,
    DEFAULT_TIMEOUT,
    HTTP_TRANSPORTS,
)
from planasonix_provider.api.errors import PlanasonixValidationError
from planasonix_provider.hooks.asset_naming import check_uri_template
from planasonix_provider.hooks.connection_form import (
    CONN_FIELDS,
    DEFAULT_CONN_ID,
    hook_field_behaviour,
    hook_form_widgets,
)

if TYPE_CHECKING:
    from datetime import timedelta

    from planasonix_provider.api.async_client import AsyncPlanasonixClient
    from planasonix_provider.api.client import PlanasonixClient
    from planasonix_provider.api.config import RetryPolicy
    from planasonix_provider.hooks.client_pool import AsyncClientLease

# DAG files import this module: the clients (and the pydantic models they parse with), the retry
# policy and the triggerer's client pool are imported where they are first used, not at DAG-parse
# time (docs/performance.md).

TEST_CONNECTION_TIMEOUT = 10.0


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
        # Here, not at the top: DAG files import this module, and only a task builds a client.
        from planasonix_provider.api.config import RetryPolicy

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


class PlanasonixHook(BaseHook):
    """Interact with the Planasonix Orchestration API v1.

    The connection's host is the base URL (default ``https://api.planasonix.com``), its password
    the API key; the extras are the fields of :data:`CONN_FIELDS`.

    :param planasonix_conn_id: the Airflow connection id.
    """

    conn_name_attr = "planasonix_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "planasonix"
    hook_name = "Planasonix"

    def __init__(self, planasonix_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planasonix_conn_id = planasonix_conn_id

    def __repr__(self) -> str:
        return f"PlanasonixHook(planasonix_conn_id={self.planasonix_conn_id!r})"

    # --- The connection form on Airflow 3.0 and 3.1 (3.2+ reads get_provider_info instead) --

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The standard fields' labels, placeholders and hidden fields."""
        return hook_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extras' fields, labels, help texts and defaults."""
        return hook_form_widgets()

    # --- Settings --------------------------------------------------------------------------

    @staticmethod
    def _settings_of(conn_id: str, conn: Any) -> ConnectionSettings:
        return ConnectionSettings.parse(
            conn_id,
            host=conn.host,
            port=conn.port,
            password=conn.password,
            extra=conn.extra_dejson,
        )

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection, read once and checked."""
        return self._settings_of(
            self.planasonix_conn_id, self.get_connection(self.planasonix_conn_id)
        )

    async def aget_settings(self) -> ConnectionSettings:
        """The connection, read without blocking the event loop on every Airflow line.

        Airflow's async getter is used where it is safe (3.3.2+). Before, it is missing (3.0) or
        masks secrets with a synchronous call that can deadlock beside other triggers' calls, so
        the synchronous getter runs in asgiref's worker thread, as Airflow's common-compat does.
        """
        if has("safe aget_connection"):
            conn = await self.aget_connection(self.planasonix_conn_id)
        else:
            from asgiref.sync import sync_to_async

            conn = await sync_to_async(self.get_connection)(self.planasonix_conn_id)
        return self._settings_of(self.planasonix_conn_id, conn)

    # --- Clients ---------------------------------------------------------------------------

    @cached_property
    def client(self) -> PlanasonixClient:
        """The synchronous client, built once per hook."""
        return build_client(self.settings)

    def get_conn(self) -> PlanasonixClient:
        """The synchronous client (Airflow's hook convention; the same as :attr:`client`)."""
        return self.client

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float | timedelta | None = None,
        poll_interval: float | timedelta = 10.0,
        cancel_on_timeout: bool = True,
    ) -> dict[str, Any]:
        """Block until a job ends; for TaskFlow code that started it with the client.

        Returns what :class:`~planasonix_provider.operators.planasonix.PlanasonixSyncOperator`
        returns (``job_id``, ``status``, ..., ``tables``, ``warnings``, ``url``). A failed or
        cancelled job, or one still running after ``timeout`` seconds (then cancelled, unless
        ``cancel_on_timeout=False``), raises ``AirflowException`` with the job's URL.
        """
        from planasonix_provider import wait

        poll = wait.seconds("poll_interval", poll_interval)
        limit = None if timeout is None else wait.seconds("timeout", timeout)
        client = self.client
        outcome = wait.wait_blocking(
            client,
            "job",
            job_id,
            poll_interval=poll,
            deadline=None if limit is None else time.time() + limit,
            cancel_on_timeout=cancel_on_timeout,
            logger=self.log,
        )
        url = self.resource_url("job", job_id)
        if not outcome.succeeded:
            raise AirflowException(f"{outcome.message}. See {url}")
        try:
            return wait.summarize(client, "job", job_id, outcome.resource, url)
        except wait.ResultsNotReadyError as exc:
            raise AirflowException(f"{exc}. See {url}") from None

    async def _new_async_client(self) -> AsyncPlanasonixClient:
        settings = await self.aget_settings()
        # Importing aiohttp and loading the CA bundle block: not on the loop (docs/performance.md).
        return await asyncio.to_thread(build_async_client, settings)

    async def get_async_client(self) -> AsyncPlanasonixClient:
        """The async client of this connection, shared by all its users on the running loop
        (:mod:`~planasonix_provider.hooks.client_pool`).

        It stays open for the life of the loop; do not close it. Code that runs for a while and
        then ends, such as a trigger, should prefer :meth:`async_client`.
        """
        from planasonix_provider.hooks.client_pool import shared

        entry = await shared(self.planasonix_conn_id, self._new_async_client)
        entry.pinned = True
        return entry.client

    def async_client(self) -> AsyncClientLease:
        """Borrow the shared async client: ``async with hook.async_client() as client:``. The
        last borrower to leave closes its pool."""
        from planasonix_provider.hooks.client_pool import AsyncClientLease

        return AsyncClientLease(self.planasonix_conn_id, self._new_async_client)

    def resource_url(self, kind: str, resource_id: str) -> str:
        """The Planasonix web page of a ``job`` or ``backfill``."""
        return self.settings.resource_url(kind, resource_id)

    # --- Connection test -------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Call a cheap authenticated endpoint and say in one line what is wrong, if anything."""
        from planasonix_provider.api.client import PlanasonixClient
        from planasonix_provider.api.config import RetryPolicy
        from planasonix_provider.api.errors import (
            AuthenticationError,
            NotFoundError,
            PlanasonixError,
            PlanasonixTransportError,
            ResponseParseError,
        )

        try:
            settings = self.settings
            with PlanasonixClient(
                settings.base_url,
                settings.api_key,
                timeout=min(settings.timeout, TEST_CONNECTION_TIMEOUT),
                retry=RetryPolicy(max_attempts=1),
            ) as client:
                next(iter(client.list_jobs(page_size=1)), None)
        except AuthenticationError as exc:
            return False, (
                f"Planasonix at {settings.base_url} refused the API key (HTTP {exc.status_code}"
                f"{': ' + exc.api_message if exc.api_message else ''}). Check the API key field."
            )
        except NotFoundError:
            return False, (
                f"{settings.base_url} answered 404 for /api/v1/jobs: the base URL should be the "
                "API root, such as https://api.planasonix.com (without /api/v1)."
            )
        except PlanasonixTransportError as exc:
            return False, (
                f"Could not reach {settings.base_url} ({exc.cause_name}). Check the host and "
                "that the network allows it."
            )
        except ResponseParseError as exc:
            return False, f"{settings.base_url} does not answer like the Planasonix API: {exc}"
        except PlanasonixError as exc:
            return False, str(exc)
        return True, f"Connected to Planasonix at {settings.base_url}."


def build_client(settings: ConnectionSettings) -> PlanasonixClient:
    from planasonix_provider.api.client import PlanasonixClient

    return PlanasonixClient(settings.base_url, settings.api_key, **settings.client_options())


def build_async_client(settings: ConnectionSettings) -> AsyncPlanasonixClient:
    from planasonix_provider.api.async_client import AsyncPlanasonixClient

    return AsyncPlanasonixClient(
        settings.base_url,
        settings.api_key,
        http_transport=settings.http_transport,
        **settings.client_options(),
    )
