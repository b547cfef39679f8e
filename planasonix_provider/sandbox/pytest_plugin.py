"""The ``planasonix_sandbox`` pytest fixture. Loaded in every pytest run, so imports are lazy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from planasonix_provider.sandbox.testing import SandboxHandle

DEFAULT_FIXTURE_SPEED = 10.0


@pytest.fixture
def planasonix_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """A fresh sandbox per test, running 10x faster than real time.

    Override the speed with ``@pytest.mark.planasonix_sandbox(speed=..., config=...)``; choose
    the answer shapes with ``profile="variant"`` there, or for the whole run with
    ``--planasonix-sandbox-profile=variant``.
    """
    from planasonix_provider.sandbox.testing import run_sandbox

    marker = request.node.get_closest_marker("planasonix_sandbox")
    options = dict(marker.kwargs) if marker else {}
    options.setdefault("speed", DEFAULT_FIXTURE_SPEED)
    options.setdefault("profile", request.config.getoption("planasonix_sandbox_profile"))
    with run_sandbox(**options) as handle:
        yield handle


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--planasonix-sandbox-profile",
        dest="planasonix_sandbox_profile",
        default="reference",
        choices=("reference", "variant"),
        help="answer shapes of every planasonix_sandbox fixture (default: reference)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "planasonix_sandbox(**options): options for the planasonix_sandbox fixture"
    )
