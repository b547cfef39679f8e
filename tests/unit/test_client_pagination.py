"""List methods walk every page lazily, following ``meta.page.cursor`` until it is null."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from planasonix_provider.api import Backfill, Job, PlanasonixError, Webhook, WebhookDelivery
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import page, params_of


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


def _jobs(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "status": "succeeded", "created_at": "2025-03-27T14:22:10Z"} for i in ids]


def _backfills(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "status": "completed", "progress_percent": 100} for i in ids]


LISTS = [
    pytest.param(
        "list_jobs",
        {"connection_id": "conn_1", "status": "succeeded", "page_size": 2},
        "/api/v1/jobs",
        {"connection_id": "conn_1", "status": "succeeded", "limit": "2"},
        _jobs,
        Job,
        id="jobs",
    ),
    pytest.param(
        "list_backfills",
        {"connection_id": "conn_1", "page_size": 2},
        "/api/v1/backfills",
        {"connection_id": "conn_1", "limit": "2"},
        _backfills,
        Backfill,
        id="backfills",
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "path", "filters", "items", "model"), LISTS)
async def test_three_pages_are_walked_lazily_with_the_cursor(
    make_api: Callable[..., harness.Api],
    name: str,
    kwargs: dict[str, Any],
    path: str,
    filters: dict[str, str],
    items: Callable[..., list[dict[str, Any]]],
    model: type,
) -> None:
    api = make_api(
        page(items("a1", "a2"), "cur+1/=", limit=2),
        page(items("b1", "b2"), "cur 2", limit=2),
        page(items("c1"), None, limit=2),
    )

    iterator = getattr(api.client, name)(**kwargs)
    assert api.script.count == 0, "a list method must not send anything before iteration"

    first = await api.next_item(iterator)
    assert (first.id, api.script.count) == ("a1", 1)
    second = await api.next_item(iterator)
    assert (second.id, api.script.count) == ("a2", 1), "page 2 is fetched only when needed"

    rest = [item async for item in iterator] if hasattr(iterator, "__aiter__") else list(iterator)

    assert [item.id for item in [first, second, *rest]] == ["a1", "a2", "b1", "b2", "c1"]
    assert all(isinstance(item, model) for item in rest)
    assert api.script.count == 3
    assert [r.url.path for r in api.script.requests] == [path] * 3
    assert [params_of(r) for r in api.script.requests] == [
        filters,
        {**filters, "cursor": "cur+1/="},
        {**filters, "cursor": "cur 2"},
    ]


async def test_a_single_page_without_meta_is_the_last(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(scripted.ok(ex.WEBHOOK_LIST))

    webhooks = await api.call("list_webhooks")

    assert [type(w) for w in webhooks] == [Webhook]
    assert api.script.count == 1


async def test_an_empty_page_ends_the_iteration(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(page([], None))

    assert await api.call("list_jobs") == []
    assert api.script.count == 1


@pytest.mark.parametrize(
    ("name", "args", "path", "items"),
    [
        ("list_webhooks", (), "/api/v1/webhooks", [{"id": "wh_1"}, {"id": "wh_2"}]),
        (
            "list_webhook_deliveries",
            ("wh 1",),
            "/api/v1/webhooks/wh%201/deliveries",
            [{"id": "d1", "event": "job.failed", "status": "failed"}],
        ),
    ],
)
async def test_webhook_lists_follow_the_cursor_too(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[str, ...],
    path: str,
    items: list[dict[str, Any]],
) -> None:
    api = make_api(page(items, "next"), page(items, None))

    result = await api.call(name, *args)

    assert len(result) == 2 * len(items)
    assert all(isinstance(r, (Webhook, WebhookDelivery)) for r in result)
    assert [r.url.raw_path.split(b"?")[0].decode() for r in api.script.requests] == [path] * 2
    assert [params_of(r) for r in api.script.requests] == [{}, {"cursor": "next"}]


async def test_a_failing_later_page_raises_after_the_earlier_items(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(
        page(_jobs("a1"), "c1"), scripted.api_error(404, "cursor_expired", "cursor expired")
    )
    iterator = api.client.list_jobs()

    assert (await api.next_item(iterator)).id == "a1"
    with pytest.raises(PlanasonixError, match="cursor_expired"):
        await api.next_item(iterator)
