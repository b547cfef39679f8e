"""Imports point one way: api <- wait.py <- hooks <- triggers / operators / sensors; the sandbox
shares the models, not the client. Checked on the source, so that a new import cannot slip in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "planasonix_provider"

#: Airflow-free and below the hook.
BELOW_HOOKS = (
    "airflow",
    "planasonix_provider.hooks",
    "planasonix_provider.triggers",
    "planasonix_provider.operators",
    "planasonix_provider.sensors",
    "planasonix_provider.sandbox",
)

FORBIDDEN = {
    "api": BELOW_HOOKS,
    "api/config.py": ("planasonix_provider.api.retry",),  # RetryPolicy's values; retry.py decides
    "wait.py": BELOW_HOOKS,  # waiting on Planasonix work: used by the hook, trigger and operators
    "hooks": (
        "planasonix_provider.triggers",
        "planasonix_provider.operators",
        "planasonix_provider.sensors",
        "planasonix_provider.sandbox",
    ),
    "triggers": (
        "planasonix_provider.operators",
        "planasonix_provider.sensors",
        "planasonix_provider.sandbox",
    ),
    "operators": ("planasonix_provider.sensors", "planasonix_provider.sandbox"),
    "sensors": ("planasonix_provider.operators", "planasonix_provider.sandbox"),
    "sandbox": (
        "airflow",
        "planasonix_provider.api.client",
        "planasonix_provider.api.async_client",
        "planasonix_provider.api.config",
        "planasonix_provider.api.senders",
        "planasonix_provider.api.aiohttp_sender",
        "planasonix_provider.api.retry",
        "planasonix_provider.api.webhooks",  # it signs as a service would, not with our signer
        "planasonix_provider.hooks",
        "planasonix_provider.triggers",
        "planasonix_provider.operators",
        "planasonix_provider.sensors",
    ),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer: str) -> None:
    files = [PACKAGE / layer] if layer.endswith(".py") else sorted((PACKAGE / layer).glob("*.py"))
    assert files
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert offences == []
