"""Binding a socket and running uvicorn on it, shared by the CLI and :mod:`testing`.

The socket is bound before uvicorn starts so that ``--port 0`` yields a known port that can be
printed (or handed to a test) before the first request.
"""

from __future__ import annotations

import json
import socket

import uvicorn

from planasonix_provider.sandbox.app import SandboxSettings, create_app


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def base_url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def airflow_conn_json(url: str, api_key: str) -> str:
    return json.dumps({"conn_type": "planasonix", "host": url, "password": api_key})


def make_server(settings: SandboxSettings, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=2,
        # The default access log prints method, path and status only, never headers (the key).
        access_log=log_level in ("debug", "info", "trace"),
    )
    return uvicorn.Server(config)
