"""PlanasonixHook: the Planasonix client on an Airflow connection of type ``planasonix``."""

from __future__ import annotations

import asyncio
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from planasonix_provider.airflow_lines import AirflowException, BaseHook, has
from planasonix_provider.api.errors import (
    AuthenticationError,
    NotFoundError,
    PlanasonixError,
    PlanasonixTransportError,
    ResponseParseError,
)
from planasonix_provider.api.retry import RetryPolicy
from planasonix_provider.hooks.client_pool import AsyncClientLease, shared
from planasonix_provider.hooks.connection_form import (
    DEFAULT_CONN_ID,
    hook_field_behaviour,
    hook_form_widgets,
)
from planasonix_provider.hooks.connection_settings import ConnectionSettings

if TYPE_CHECKING:
    from datetime import timedelta

    from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient

# DAG files may import this module: the clients (and the pydantic models they parse with) are
# imported when a client is first built, not at DAG-parse time.

TEST_CONNECTION_TIMEOUT = 10.0


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
        entry = await shared(self.planasonix_conn_id, self._new_async_client)
        entry.pinned = True
        return entry.client

    def async_client(self) -> AsyncClientLease:
        """Borrow the shared async client: ``async with hook.async_client() as client:``. The
        last borrower to leave closes its pool."""
        return AsyncClientLease(self.planasonix_conn_id, self._new_async_client)

    def resource_url(self, kind: str, resource_id: str) -> str:
        """The Planasonix web page of a ``job`` or ``backfill``."""
        return self.settings.resource_url(kind, resource_id)

    # --- Connection test -------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Call a cheap authenticated endpoint and say in one line what is wrong, if anything."""
        from planasonix_provider.api import PlanasonixClient

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
