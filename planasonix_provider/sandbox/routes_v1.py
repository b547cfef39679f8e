"""Every route of the Orchestration API v1, answering with the reference's exact envelopes.

Responses are plain JSON data, never the client's response models: what the sandbox says is
what the reference allows, not what the client happens to parse. The store's :class:`Profile`
picks between the shapes the reference leaves open (see ``config.PROFILES``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from planasonix_provider.api.models import (
    BackfillRequest,
    SyncRequest,
    WebhookCreateRequest,
    WebhookTestRequest,
    WebhookUpdateRequest,
)
from planasonix_provider.api.status import is_job_terminal
from planasonix_provider.sandbox.errors import ApiError
from planasonix_provider.sandbox.http_utils import (
    check_accepted,
    data,
    listing,
    parse_body,
    parse_cursor,
    parse_limit,
    parse_time,
)
from planasonix_provider.sandbox.records import BackfillRecord, JobRecord, WebhookRecord, iso, ts
from planasonix_provider.sandbox.state import Store, page
from planasonix_provider.sandbox.webhooks import Dispatcher

router = APIRouter(prefix="/api/v1")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _connection(store: Store, connection_id: str) -> str:
    if not store.connection_exists(connection_id):
        raise ApiError(404, "connection_not_found", f"connection {connection_id!r} not found")
    return connection_id


def _job(store: Store, job_id: str) -> JobRecord:
    job = store.jobs.get(job_id)
    if job is None or not store.visible(job):
        raise ApiError(404, "job_not_found", f"job {job_id!r} not found")
    return job


def _backfill(store: Store, backfill_id: str) -> BackfillRecord:
    backfill = store.backfills.get(backfill_id)
    if backfill is None:
        raise ApiError(404, "backfill_not_found", f"backfill {backfill_id!r} not found")
    return backfill


def _webhook(store: Store, webhook_id: str) -> WebhookRecord:
    hook = store.webhooks.get(webhook_id)
    if hook is None:
        raise ApiError(404, "webhook_not_found", f"webhook {webhook_id!r} not found")
    return hook


def _flush(request: Request) -> None:
    """Deliver due events now, so that they go to the subscriptions that exist at this moment."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    dispatcher.tick()


def _shown(store: Store, view: dict[str, Any]) -> dict[str, Any]:
    """A job or backfill view in the store's profile: metadata echoed or not, errors as objects
    or as bare strings."""
    profile = store.profile
    if not profile.echo_metadata:
        view.pop("metadata", None)
    error = view.get("error")
    if profile.string_errors and isinstance(error, dict):
        view["error"] = error.get("message")
    return view


def _job_view(store: Store, job: JobRecord, now: float) -> dict[str, Any]:
    return _shown(store, job.view(now))


def _backfill_view(store: Store, backfill: BackfillRecord, now: float) -> dict[str, Any]:
    return _shown(store, backfill.view(store.shards(backfill), now))


def _cursor(store: Store, chosen: list[Any], next_seq: int | None) -> int | None:
    """The next page's cursor; a profile may hand one out on the last page too."""
    if next_seq is None and chosen and store.profile.cursor_on_last_page:
        return int(chosen[-1].seq)
    return next_seq


# --- jobs and backfills ------------------------------------------------------------------------


@router.post("/connections/{connection_id}/sync")
async def trigger_sync(connection_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    body = await parse_body(request, SyncRequest, optional=True)
    check_accepted("priority", body.priority)
    job = store.create_sync(_connection(store, connection_id), body)
    _flush(request)
    return data({"job": _job_view(store, job, store.now())}, 202)


@router.post("/connections/{connection_id}/backfill")
async def trigger_backfill(connection_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    body = await parse_body(request, BackfillRequest)
    check_accepted("priority", body.priority)
    backfill = store.create_backfill(_connection(store, connection_id), body)
    _flush(request)
    # As it was when created: a loaded machine must not show progress in the 202 answer.
    return data({"backfill": _backfill_view(store, backfill, backfill.created)}, 202)


@router.get("/backfills")
async def list_backfills(request: Request) -> JSONResponse:
    store = _store(request)
    limit, after, now = parse_limit(request), parse_cursor(request), store.now()
    connection_id = request.query_params.get("connection_id")
    status = request.query_params.get("status")
    views = []
    for backfill in reversed(store.backfills.values()):
        if connection_id is not None and backfill.connection_id != connection_id:
            continue
        if status is not None and backfill.status_at(store.shards(backfill), now) != status:
            continue
        views.append(backfill)
    chosen, next_seq = page(views, limit, after)
    items = [_backfill_view(store, b, now) for b in chosen]
    return listing(items, limit, _cursor(store, chosen, next_seq))


@router.get("/backfills/{backfill_id}")
async def get_backfill(backfill_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    backfill = _backfill(store, backfill_id)
    return data(_backfill_view(store, backfill, store.now()))


@router.get("/jobs")
async def list_jobs(request: Request) -> JSONResponse:
    store = _store(request)
    limit, after, now = parse_limit(request), parse_cursor(request), store.now()
    query = request.query_params
    since, until = parse_time(request, "since"), parse_time(request, "until")
    since_at = since.timestamp() if since else None
    until_at = until.timestamp() if until else None

    def wanted(job: JobRecord) -> bool:
        if (after is not None and job.seq >= after) or job.created > now:
            return False
        for name, value in (
            ("connection_id", job.connection_id),
            ("pipeline_id", job.pipeline_id),
            ("type", job.type),
        ):
            if name in query and query[name] != value:
                return False
        if since_at is not None and job.created < since_at:
            return False
        if until_at is not None and job.created > until_at:
            return False
        return "status" not in query or job.status_at(now) == query["status"]

    chosen, next_seq = page((j for j in reversed(store.jobs.values()) if wanted(j)), limit, None)
    items = [_job_view(store, j, now) for j in chosen]
    return listing(items, limit, _cursor(store, chosen, next_seq))


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    return data(_job_view(store, _job(store, job_id), store.now()))


@router.get("/jobs/{job_id}/results")
async def get_job_results(job_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    job, now = _job(store, job_id), store.now()
    status = job.status_at(now)
    profile = store.profile
    if job.backfill_id is not None and not profile.shard_results:
        raise ApiError(404, "results_not_found", f"job {job_id!r} is internal: it has no results")
    if not is_job_terminal(status):
        if profile.results_stub:
            stub = {"job_id": job.id, "status": status, "tables": None, "warnings": None}
            return data(stub)
        raise ApiError(
            409, "job_not_finished", f"job {job_id!r} is {status}; results exist once it ends"
        )
    return data(job.results(now))


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(job_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    job = _job(store, job_id)
    store.cancel(job)
    return data(_job_view(store, job, store.now()))


# --- webhooks ----------------------------------------------------------------------------------


def webhook_view(hook: WebhookRecord, store: Store, **extra: Any) -> dict[str, Any]:
    deliveries = store.deliveries.get(hook.id, [])
    delivered = [d.delivered_at for d in deliveries if d.delivered_at is not None]
    day_ago = store.now() - 86_400
    failures = sum(1 for d in deliveries if d.status == "failed" and d.created >= day_ago)
    view = {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "enabled": hook.enabled,
        "last_delivery_at": ts(max(delivered)) if delivered else None,
        "failure_count_24h": failures,
        "created_at": ts(hook.created),
        "updated_at": ts(hook.updated),
    }
    view.update(extra)
    return view


@router.get("/webhooks")
async def list_webhooks(request: Request) -> JSONResponse:
    store = _store(request)
    limit, after = parse_limit(request), parse_cursor(request)
    chosen, next_seq = page(reversed(store.webhooks.values()), limit, after)
    items = [webhook_view(h, store) for h in chosen]
    return listing(items, limit, _cursor(store, chosen, next_seq))


@router.post("/webhooks")
async def create_webhook(request: Request) -> JSONResponse:
    store = _store(request)
    body = await parse_body(request, WebhookCreateRequest)
    check_accepted("events", body.events)
    _flush(request)
    secret = body.secret.get_secret_value() if body.secret else store.new_secret()
    hook = WebhookRecord(
        id=store.new_id("wh_"),
        seq=store.next_seq(),
        url=body.url,
        events=[str(e) for e in body.events],
        enabled=True,
        secret=secret,
        created=store.now(),
    )
    store.webhooks[hook.id] = hook
    store.dirty = True
    return data(webhook_view(hook, store, signing_secret=secret), 201)


@router.get("/webhooks/{webhook_id}")
async def get_webhook(webhook_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    return data(webhook_view(_webhook(store, webhook_id), store))


@router.put("/webhooks/{webhook_id}")
async def update_webhook(webhook_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    hook = _webhook(store, webhook_id)
    body = await parse_body(request, WebhookUpdateRequest, optional=True)
    check_accepted("events", body.events)
    if store.profile.put_replaces:
        # The whole subscription, as the reference's PUT body shows it: nothing is merged.
        missing = [name for name in ("url", "events") if getattr(body, name) is None]
        if missing:
            raise ApiError(400, "invalid_request", f"{', '.join(missing)}: required (PUT replaces)")
    _flush(request)
    if body.url is not None:
        hook.url = body.url
    if body.events is not None:
        hook.events = [str(e) for e in body.events]
    if body.enabled is not None:
        hook.enabled = body.enabled
    elif store.profile.put_replaces:
        hook.enabled = True
    hook.updated = store.now()
    store.dirty = True
    return data(webhook_view(hook, store))


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, request: Request) -> Response:
    store = _store(request)
    _webhook(store, webhook_id)
    del store.webhooks[webhook_id]
    store.deliveries.pop(webhook_id, None)
    store.dirty = True
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret")
async def rotate_webhook_secret(webhook_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    hook = _webhook(store, webhook_id)
    hook.secret = store.new_secret()
    hook.rotated = store.now()
    store.dirty = True
    return data({"id": hook.id, "signing_secret": hook.secret, "rotated_at": iso(hook.rotated)})


@router.post("/webhooks/{webhook_id}/test")
async def send_test_event(webhook_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    hook = _webhook(store, webhook_id)
    body = await parse_body(request, WebhookTestRequest, optional=True)
    check_accepted("event", body.event)
    dispatcher: Dispatcher = request.app.state.dispatcher
    delivery = dispatcher.send_test(hook, str(body.event or "job.succeeded"))
    return data({"delivery_id": delivery.id, "status": "pending"}, 202)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_webhook_deliveries(webhook_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    hook = _webhook(store, webhook_id)
    limit, after = parse_limit(request), parse_cursor(request)
    chosen, next_seq = page(reversed(store.deliveries.get(hook.id, [])), limit, after)
    items = [
        {
            "id": d.id,
            "event": d.event,
            "status": d.status,
            "http_status": d.http_status,
            "attempt": d.attempt,
            "last_error": d.last_error,
            "delivered_at": ts(d.delivered_at),
        }
        for d in chosen
    ]
    return listing(items, limit, _cursor(store, chosen, next_seq))


# --- the spec ----------------------------------------------------------------------------------


def openapi_text() -> str:
    return (resources.files("planasonix_provider.api") / "openapi.yaml").read_text("utf-8")


@router.get("/openapi.yaml")
async def get_openapi_spec(request: Request) -> Response:
    return Response(openapi_text(), media_type="application/yaml")
