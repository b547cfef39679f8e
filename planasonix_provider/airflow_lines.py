"""The Airflow 3 lines this provider runs on: the names it imports, from where each line has them,
and the features only newer lines offer.

Every Airflow-facing module imports Airflow's base classes, ``conf`` and exceptions from here, so
that a name that moved between 3.0 and 3.3 is resolved in one place. ``airflow.sdk`` is tried
first: where it has the name, the older home warns with a ``DeprecationWarning`` on newer lines.

What a missing feature costs on an older line is written once, in :data:`FEATURES`, and read both by
the code (to log it where it matters) and by ``docs/airflow-versions.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow import __version__ as AIRFLOW_VERSION_STRING

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
else:
    import airflow.sdk as _sdk

    # airflow.sdk has the base classes from 3.0, BaseHook from 3.1 and conf from 3.2.
    BaseOperator = _sdk.BaseOperator
    BaseSensorOperator = _sdk.BaseSensorOperator
    BaseOperatorLink = _sdk.BaseOperatorLink
    try:
        BaseHook = _sdk.BaseHook
    except AttributeError:
        from airflow.hooks.base import BaseHook
    try:
        conf = _sdk.conf
    except AttributeError:
        from airflow.configuration import conf

    # airflow.sdk.exceptions has these from 3.2 (AirflowException alone from 3.1); before, they
    # live in airflow.exceptions, which on 3.2+ warns for each of them.
    import airflow.sdk.exceptions as _sdk_exceptions

    def _exception(name: str) -> type[BaseException]:
        found = getattr(_sdk_exceptions, name, None)
        if found is None:
            import airflow.exceptions

            found = getattr(airflow.exceptions, name)
        return found  # type: ignore[no-any-return]

    AirflowException = _exception("AirflowException")
    AirflowFailException = _exception("AirflowFailException")
    AirflowNotFoundException = _exception("AirflowNotFoundException")
    AirflowSensorTimeout = _exception("AirflowSensorTimeout")
    AirflowSkipException = _exception("AirflowSkipException")
    TaskDeferred = _exception("TaskDeferred")


def _release(version: str) -> tuple[int, int, int]:
    """``(3, 2, 0)`` from ``3.2.0``, ``3.2.0rc1`` or ``3.2.0.dev0``."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
    return numbers[0], numbers[1], numbers[2]


AIRFLOW_VERSION: tuple[int, int, int] = _release(AIRFLOW_VERSION_STRING)


@dataclass(frozen=True)
class LineFeature:
    """A feature of newer Airflow lines, and what this provider does where it is absent."""

    name: str
    since: tuple[int, int, int]
    without: str

    @property
    def available(self) -> bool:
        return self.since <= AIRFLOW_VERSION

    @property
    def since_text(self) -> str:
        return ".".join(str(part) for part in self.since)


FEATURES: dict[str, LineFeature] = {
    feature.name: feature
    for feature in (
        LineFeature(
            "task state store",
            (3, 3, 0),
            "a retry cannot look up the previous try's job or backfill, so it starts new work and "
            "logs a warning; with `reattach_on_retry=True` it reattaches instead when exactly one "
            "still useful match (queued, running, a status it does not know, or succeeded) was "
            "created since the DAG run started",
        ),
        LineFeature(
            "trigger on_kill",
            (3, 3, 0),
            "marking or clearing a deferred task does not cancel the remote job (Airflow never "
            "tells the trigger); the job runs on to its end or to the task's timeout, which "
            "still cancels it",
        ),
        LineFeature(
            "safe aget_connection",
            (3, 3, 2),
            "the trigger reads its connection with the synchronous getter in a worker thread, "
            "off the event loop (before 3.3.2 Airflow's async getter can deadlock when other "
            "triggers are mid-call)",
        ),
        LineFeature(
            "declarative connection form",
            (3, 2, 0),
            "the connection form comes from the hook's `get_ui_field_behaviour` and "
            "`get_connection_form_widgets`: the same fields, labels, placeholders and help texts",
        ),
        LineFeature(
            "asset state store",
            (3, 3, 0),
            "the job event trigger keeps its position in memory only: after a triggerer restart it "
            "starts again from the jobs running then, so jobs that ended while it was down, or "
            "during its first poll, never fire (it errs on missing, not on repeating, events)",
        ),
        LineFeature(
            "shared streams",
            (3, 3, 0),
            "each job event trigger lists jobs on its own: N watchers cost N list requests per "
            "interval instead of one per Airflow connection",
        ),
    )
}


def has(feature: str) -> bool:
    """Whether the running Airflow line offers ``feature`` (a key of :data:`FEATURES`)."""
    return FEATURES[feature].available


def missing_message(feature: str) -> str:
    """The one log line for a feature this line lacks: which, since when, and what it costs."""
    entry = FEATURES[feature]
    return (
        f"Airflow {AIRFLOW_VERSION_STRING} has no {entry.name} (Airflow {entry.since_text}+): "
        f"{entry.without}"
    )


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_VERSION_STRING",
    "FEATURES",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "LineFeature",
    "TaskDeferred",
    "conf",
    "has",
    "missing_message",
]
