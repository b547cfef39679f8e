"""After :class:`RequestMayHaveBeenProcessedError`: was the work started, or can we not tell?

The reference promises little to look work up by: jobs carry no ``metadata`` and ``GET /jobs``
has no metadata filter. What it does promise is a job's ``connection_id``, ``type`` and
``created_at``, with ``connection_id``, ``type`` and ``since`` filters on ``GET /jobs`` (and a
backfill's ``connection_id`` and ``created_at``). So the lookup lists the work of the connection
created since just before the request, and answers:

* ``none``: the API lists no such work: nothing was started (yet visible), and starting again is
  as safe as the API's listing is prompt;
* ``found``: exactly one candidate, and it carries the metadata that was sent (a service that
  echoes metadata); the work was started and this is it;
* ``cannot_tell``: candidates exist (ours, or someone else's), or the listing failed: a person
  must decide. Never "nothing" when the answer is not known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from planasonix_provider.api.checks import require_aware
from planasonix_provider.api.errors import PlanasonixError

if TYPE_CHECKING:
    from planasonix_provider.api.async_client import AsyncPlanasonixClient
    from planasonix_provider.api.client import PlanasonixClient
    from planasonix_provider.api.models import Backfill, Job

Verdict = Literal["none", "found", "cannot_tell"]
WorkKind = Literal["connection_sync", "backfill"]
WORK_KINDS: tuple[WorkKind, ...] = ("connection_sync", "backfill")

#: Subtracted from ``since``: the server's clock and ours may disagree by this much.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class StartedWork:
    """What the lookup found. ``candidates`` are jobs (syncs) or backfills, newest first."""

    verdict: Verdict
    reason: str
    candidates: list[Job | Backfill] = field(default_factory=list)

    @property
    def started(self) -> Job | Backfill | None:
        """The work that was started, when the lookup can say so (``found``)."""
        return self.candidates[0] if self.verdict == "found" else None


def judge(
    candidates: Iterable[Job | Backfill],
    *,
    since: datetime,
    metadata: Mapping[str, object] | None = None,
) -> StartedWork:
    """The verdict on the work a listing returned (filtered again on ``created_at >= since``)."""
    found: list[Job | Backfill] = []
    for item in candidates:
        created = item.created_at
        if created is None:
            return StartedWork(
                "cannot_tell",
                f"{item.id} has no created_at, so whether it is this request's work is unknown",
                [item],
            )
        if created >= since:
            found.append(item)
    if not found:
        return StartedWork(
            "none", f"the API lists no work of this connection created since {since.isoformat()}"
        )
    if metadata:
        echoed = [item for item in found if _carries(item, metadata)]
        if len(echoed) == 1:
            return StartedWork("found", f"{echoed[0].id} carries the metadata sent", echoed)
    ids = ", ".join(item.id for item in found)
    return StartedWork(
        "cannot_tell",
        f"{len(found)} candidate(s) created since {since.isoformat()} ({ids}); the API does not "
        "say which request started them: check them before starting the work again",
        found,
    )


def _carries(item: Job | Backfill, metadata: Mapping[str, object]) -> bool:
    echoed = getattr(item, "metadata", None)
    return isinstance(echoed, dict) and all(echoed.get(k) == v for k, v in metadata.items())


def _check(kind: str, since: datetime) -> datetime:
    if kind not in WORK_KINDS:
        raise ValueError(f"kind must be one of {', '.join(WORK_KINDS)}, got {kind!r}")
    return require_aware("since", since) - CLOCK_SKEW


def find_started_work(
    client: PlanasonixClient,
    connection_id: str,
    *,
    since: datetime,
    kind: WorkKind = "connection_sync",
    metadata: Mapping[str, object] | None = None,
) -> StartedWork:
    """Look up the work a failed ``trigger_sync`` / ``trigger_backfill`` may have started.

    :param since: when the request was about to be sent (taken before sending it).
    :param metadata: what was sent; only used if the service echoes it, which is not promised.
    """
    since = _check(kind, since)
    try:
        items: list[Job | Backfill]
        if kind == "connection_sync":
            items = list(client.list_jobs(connection_id=connection_id, type=kind, since=since))
        else:
            items = list(client.list_backfills(connection_id=connection_id))
    except PlanasonixError as exc:
        return StartedWork("cannot_tell", f"the lookup failed: {exc}")
    return judge(items, since=since, metadata=metadata)


async def afind_started_work(
    client: AsyncPlanasonixClient,
    connection_id: str,
    *,
    since: datetime,
    kind: WorkKind = "connection_sync",
    metadata: Mapping[str, object] | None = None,
) -> StartedWork:
    """:func:`find_started_work` for the async client."""
    since = _check(kind, since)
    try:
        items: list[Job | Backfill]
        if kind == "connection_sync":
            listing = client.list_jobs(connection_id=connection_id, type=kind, since=since)
            items = [job async for job in listing]
        else:
            items = [bf async for bf in client.list_backfills(connection_id=connection_id)]
    except PlanasonixError as exc:
        return StartedWork("cannot_tell", f"the lookup failed: {exc}")
    return judge(items, since=since, metadata=metadata)
