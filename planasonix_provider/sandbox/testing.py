"""Running the sandbox inside a test: :func:`run_sandbox` and a small control-plane client.

uvicorn runs with its own event loop in a background thread, on a socket bound up front, so the
test gets a real TCP URL and the server stops cleanly when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 15.0


class SandboxControl:
    """Sync helper over ``/_sandbox/``. Every method raises ``httpx.HTTPStatusError`` on failure."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10.0
        )

    def __repr__(self) -> str:
        return f"SandboxControl(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self._http.request(method, f"/_sandbox{path}", json=json)
        response.raise_for_status()
        return response.json()["data"] if response.content else None

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_scenario(self, connection_id: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT", f"/scenarios/{connection_id}", fields)
        return result

    def clear_scenario(self, connection_id: str) -> None:
        self._call("DELETE", f"/scenarios/{connection_id}")

    def scenarios(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/scenarios")
        return result

    def add_fault(self, **fields: Any) -> str:
        fault_id: str = self._call("POST", "/faults", fields)["id"]
        return fault_id

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/counters")
        return result

    def jobs_started(
        self,
        connection_id: str | None = None,
        metadata_key: str | None = None,
        metadata_value: str | None = None,
    ) -> int:
        """Syncs triggered through the API, optionally for one connection or metadata value."""
        started = self.counters()["jobs_started"]
        if metadata_key is not None:
            values = started["by_metadata"].get(metadata_key, {})
            if metadata_value is None:
                return int(sum(values.values()))
            return int(values.get(metadata_value, 0))
        if connection_id is not None:
            return int(started["by_connection"].get(connection_id, 0))
        return int(started["total"])

    def get_internal_job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        return result


class SandboxHandle:
    """A running sandbox: where it is, its key, and its control plane. repr hides the key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        from planasonix_provider.sandbox.server import airflow_conn_json

        self.base_url = base_url
        self._api_key = api_key
        self.airflow_conn_json = airflow_conn_json(base_url, api_key)
        self.control = SandboxControl(base_url, api_key)

    @property
    def api_key(self) -> str:
        return self._api_key

    def __repr__(self) -> str:
        return f"SandboxHandle(base_url={self.base_url!r}, api_key='***')"


@contextlib.contextmanager
def run_sandbox(
    *,
    api_key: str | None = None,
    seed: int = 0,
    speed: float = 1.0,
    config: Mapping[str, Any] | str | Path | None = None,
    state_file: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    profile: str = "reference",
) -> Iterator[SandboxHandle]:
    """Run a sandbox in a background thread for the duration of the ``with`` block."""
    from planasonix_provider.sandbox.app import SandboxSettings, generate_api_key
    from planasonix_provider.sandbox.server import base_url, bind, make_server

    key = api_key or generate_api_key()
    settings = SandboxSettings(
        api_key=key,
        seed=seed,
        speed=speed,
        config=config,
        state_file=Path(state_file) if state_file else None,
        profile=profile,
    )
    server = make_server(settings, log_level=log_level)
    sock = bind(host, port)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=serve, name="planasonix-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the Planasonix sandbox did not start: {errors or 'timeout'}")
        time.sleep(0.01)
    handle = SandboxHandle(base_url(host, sock), key)
    try:
        yield handle
    finally:
        handle.control.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
