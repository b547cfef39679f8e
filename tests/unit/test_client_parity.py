"""The sync and async clients offer the same calls: same names, same parameters, same defaults.

Written by hand on both sides (the async one awaits where the sync one blocks), they could drift
apart silently; this test is what keeps them one API. The only differences allowed are the ones
Python imposes (``close``/``aclose``, ``Iterator``/``AsyncIterator``, a sync or async ``sleep``)
and the async client's choice of HTTP library, each listed below.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient

#: Sync name -> async name, where Python's protocols differ.
RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
#: Constructor parameters only the async client has.
ASYNC_ONLY_INIT = {"http_transport"}
#: Constructor parameters whose type differs by nature (an httpx sync or async transport, a
#: blocking or awaitable sleep); name, kind and default must still agree.
TYPE_DIFFERS_INIT = {"transport", "sleep"}


def _public(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") or name in RENAMED or name in RENAMED.values()
    }


def _params(function: Callable[..., Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
    ]


def _sync_view(annotation: Any) -> Any:
    """An async annotation as its sync counterpart would spell it."""
    if isinstance(annotation, str):
        return annotation.replace("AsyncIterator[", "Iterator[").replace(
            "AsyncPlanasonixClient", "PlanasonixClient"
        )
    return annotation


def test_both_clients_have_the_same_public_methods() -> None:
    sync_names = {RENAMED.get(name, name) for name in _public(PlanasonixClient)}
    assert sync_names == set(_public(AsyncPlanasonixClient))


@pytest.mark.parametrize("name", sorted(n for n in _public(PlanasonixClient) if n != "__init__"))
def test_each_method_has_the_same_signature(name: str) -> None:
    sync = getattr(PlanasonixClient, name)
    other = getattr(AsyncPlanasonixClient, RENAMED.get(name, name))
    if isinstance(sync, property):
        assert isinstance(other, property)
        sync, other = sync.fget, other.fget
    sync_signature = inspect.signature(sync)
    async_signature = inspect.signature(other)
    assert _params(sync) == [(n, k, d, _sync_view(a)) for n, k, d, a in _params(other)], (
        f"{name}: parameters differ"
    )
    assert sync_signature.return_annotation == _sync_view(async_signature.return_annotation)


@pytest.mark.parametrize("name", sorted(n for n in _public(PlanasonixClient) if n != "__init__"))
def test_a_call_that_waits_is_a_coroutine_on_the_async_client(name: str) -> None:
    sync = getattr(PlanasonixClient, name)
    other = getattr(AsyncPlanasonixClient, RENAMED.get(name, name))
    if isinstance(sync, property) or name == "prepare":
        return  # no I/O
    assert not inspect.iscoroutinefunction(sync)
    returns_iterator = str(inspect.signature(sync).return_annotation).startswith("Iterator[")
    assert inspect.iscoroutinefunction(other) != returns_iterator, name


def test_the_constructors_take_the_same_arguments() -> None:
    sync = {p[0]: p for p in _params(PlanasonixClient.__init__)}
    other = {p[0]: p for p in _params(AsyncPlanasonixClient.__init__)}
    assert set(other) - set(sync) == ASYNC_ONLY_INIT
    assert set(sync) <= set(other)
    for name, (_, kind, default, annotation) in sync.items():
        _, other_kind, other_default, other_annotation = other[name]
        assert (kind, default) == (other_kind, other_default) or name == "sleep", name
        if name not in TYPE_DIFFERS_INIT:
            assert annotation == other_annotation, name
