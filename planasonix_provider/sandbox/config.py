"""Scenario and fault specifications, and the config file that presets them.

They are pydantic models with ``extra="forbid"`` so that a typo in a test's scenario or fault is a
400 (or a start-up error) instead of a silently ignored setting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TABLES = ("public.orders", "public.order_items")
DEFAULT_DURATION = 2.0
DEFAULT_QUEUED_FOR = 0.2
DEFAULT_ROWS = 1000
#: What this sandbox accepts, as the real API would decide: the client treats these as open sets
#: and sends values it does not know, so the sandbox is where an unknown one is refused.
ACCEPTED_VALUES: dict[str, tuple[str, ...]] = {
    "priority": ("low", "normal", "high"),
    "events": (
        "job.queued",
        "job.started",
        "job.succeeded",
        "job.failed",
        "job.cancelled",
        "backfill.completed",
        "backfill.failed",
    ),
}


@dataclass(frozen=True)
class Profile:
    """The shapes the sandbox answers in, where the reference allows more than one.

    ``reference`` answers as DESIGN.md reads the reference; ``variant`` answers in the other
    shapes it allows, so that tests can show where the client depends on our own reading.
    """

    name: str = "reference"
    #: ``{"error": "<message>"}`` instead of the ``{code, message, request_id}`` object, and a
    #: failed job's ``error`` as a bare string.
    string_errors: bool = False
    #: Echo the request's ``metadata`` on jobs and backfills (the reference shows none).
    echo_metadata: bool = True
    #: Results of a running job: a partial stub (status not terminal, null lists) instead of 409.
    results_stub: bool = False
    #: Shard jobs have results (``False``: a shard's results answer 404, as nothing promises).
    shard_results: bool = True
    #: Backfill shards appear one at a time, when the previous one ends, and a cancel reaches
    #: only the shard it names (the backfill then creates no more).
    shards_over_time: bool = False
    #: A last page that still carries a cursor (its next page is empty, with a null cursor).
    cursor_on_last_page: bool = False
    #: ``PUT /webhooks/{id}`` replaces the subscription: ``url`` and ``events`` are required,
    #: an absent ``enabled`` means true.
    put_replaces: bool = False
    #: ``X-Planasonix-Signature`` as ``sha256=<hex>`` or as bare base64 of the digest.
    signature: Literal["sha256-hex", "base64"] = "sha256-hex"


PROFILES: dict[str, Profile] = {
    "reference": Profile(),
    "variant": Profile(
        name="variant",
        string_errors=True,
        echo_metadata=False,
        results_stub=True,
        shard_results=False,
        shards_over_time=True,
        cursor_on_last_page=True,
        put_replaces=True,
        signature="base64",
    ),
}


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown sandbox profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarningSpec(_Strict):
    code: str = "warning"
    message: str


class Scenario(_Strict):
    """How jobs of one connection behave. Durations are in seconds before ``speed`` applies."""

    outcome: Literal["succeed", "fail", "cancel"] = "succeed"
    duration: float = Field(DEFAULT_DURATION, ge=0, le=86_400)
    queued_for: float = Field(DEFAULT_QUEUED_FOR, ge=0, le=86_400)
    rows: int | None = Field(None, ge=0, le=10**12)
    tables: list[str] | None = None
    warnings: list[WarningSpec] = Field(default_factory=list)
    error_code: str = "sync_failed"
    error_message: str = "The sync failed in the Planasonix sandbox (scenario outcome 'fail')"


class FaultSpec(_Strict):
    """An injected failure for matching /api/v1 requests.

    ``after`` processes the request for real and only then fails, which is how a test shows that
    a lost answer to a creating POST does not lead the client to create the work twice.
    """

    method: str = "*"
    path: str = "/api/v1/*"
    status: int | None = Field(None, ge=400, le=599)
    retry_after: str | None = None
    latency: float | None = Field(None, ge=0, le=600)
    drop: bool = False
    count: int | None = Field(None, ge=1)
    probability: float | None = Field(None, ge=0, le=1)
    after: bool = False

    @model_validator(mode="after")
    def _one_failure(self) -> FaultSpec:
        if self.drop and self.status is not None:
            raise ValueError("a fault either drops the connection or answers a status, not both")
        self.method = self.method.upper()
        return self


class SandboxConfig(_Strict):
    connections: list[str] | None = None
    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    faults: list[FaultSpec] = Field(default_factory=list)


def load_config(source: Mapping[str, Any] | str | Path | None) -> SandboxConfig:
    """A config from a dict, or from a YAML or JSON file (YAML is a superset, JSON parses too)."""
    if source is None:
        return SandboxConfig()
    if isinstance(source, Mapping):
        return SandboxConfig.model_validate(dict(source))
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    return SandboxConfig.model_validate(data)
