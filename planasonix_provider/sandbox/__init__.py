"""A local Planasonix Orchestration API v1 server for tests and DAG development.

The sandbox speaks all of v1 over real HTTP, moves jobs through their states on a scaled clock,
really delivers signed webhooks, and exposes a control plane under ``/_sandbox/`` for scenarios,
faults and counters. It reuses the models of :mod:`planasonix_provider.api` so that client and
server cannot drift apart, and never imports the client itself. See ``docs/sandbox.md``.
"""

from __future__ import annotations

__all__ = ["SandboxSettings", "create_app"]


def __getattr__(name: str) -> object:
    # Lazy, so that ``import planasonix_provider.sandbox`` (the pytest plugin) stays cheap.
    if name in __all__:
        from planasonix_provider.sandbox import app

        return getattr(app, name)
    raise AttributeError(name)
