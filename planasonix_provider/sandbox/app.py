"""``create_app(settings)``: the FastAPI application of the sandbox, without a server.

Kept separate from the CLI and from :mod:`testing` so that it can be mounted in any ASGI server
(uvicorn in a thread for tests, the console script for humans).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from planasonix_provider.sandbox import control, errors, routes_v1
from planasonix_provider.sandbox.config import SandboxConfig, load_config, profile_named
from planasonix_provider.sandbox.middleware import SandboxMiddleware
from planasonix_provider.sandbox.persistence import load_state, save_state
from planasonix_provider.sandbox.state import Store
from planasonix_provider.sandbox.webhooks import Dispatcher

log = logging.getLogger("planasonix_provider.sandbox")

SAVE_EVERY_SECONDS = 1.0


def generate_api_key() -> str:
    return "pnx_sandbox_" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SandboxSettings:
    """Everything the server needs. ``repr`` never shows the API key."""

    api_key: str = field(default_factory=generate_api_key, repr=False)
    seed: int = 0
    speed: float = 1.0
    config: SandboxConfig | Mapping[str, Any] | str | Path | None = None
    state_file: Path | None = None
    #: ``reference`` or ``variant`` (see ``config.PROFILES``): the shapes of the answers.
    profile: str = "reference"

    def __post_init__(self) -> None:
        profile_named(self.profile)  # fail at start-up on an unknown name
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")
        if not self.api_key:
            raise ValueError("api_key must not be empty")


def create_app(settings: SandboxSettings) -> FastAPI:
    config = (
        settings.config
        if isinstance(settings.config, SandboxConfig)
        else load_config(settings.config)
    )
    store = Store(
        config, seed=settings.seed, speed=settings.speed, profile=profile_named(settings.profile)
    )
    state_file = Path(settings.state_file) if settings.state_file else None
    if state_file is not None and load_state(store, state_file):
        log.info("loaded %d jobs from %s", len(store.jobs), state_file)
    dispatcher = Dispatcher(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        saver = asyncio.create_task(_save_forever(store, state_file)) if state_file else None
        try:
            yield
        finally:
            if saver is not None:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver
            await dispatcher.stop()
            if state_file is not None:
                save_state(store, state_file)

    app = FastAPI(
        title="Planasonix sandbox",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.dispatcher = dispatcher
    errors.install(app)
    app.include_router(routes_v1.router)
    app.include_router(control.router)
    # The routers' own routes, not app.router.routes: FastAPI 0.165 (not 0.136) keeps included
    # routers there as wrappers, which carry no path template to count requests under.
    app.add_middleware(
        SandboxMiddleware,
        store=store,
        api_key=settings.api_key,
        routes=[*routes_v1.router.routes, *control.router.routes],
    )
    return app


async def _save_forever(store: Store, path: Path | None) -> None:
    assert path is not None
    while True:
        await asyncio.sleep(SAVE_EVERY_SECONDS)
        if store.dirty:
            try:
                save_state(store, path)
            except OSError:
                log.exception("could not save the sandbox state to %s", path)
