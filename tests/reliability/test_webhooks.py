"""Webhook signatures: constant-time, strict, and without a gap during a secret rotation."""

from __future__ import annotations

import hmac
import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planasonix_provider.api import PlanasonixClient, verify_signature
from planasonix_provider.api import webhooks as webhooks_module
from planasonix_provider.api.webhooks import sign_payload
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.loopback import WireRequest, answer, serving
from tests.reliability.conftest import FIGURES

SECRET = "whsec_current_0123456789"
OLD = "whsec_previous_9876543210"
BODY = b'{"id":"evt_1","type":"job.succeeded","created_at":"2025-01-01T00:00:00Z","data":{}}'


def test_verification_is_constant_time(mocker: Any) -> None:
    assert "hmac.compare_digest" in inspect.getsource(webhooks_module.verify_signature)
    spy = mocker.spy(hmac, "compare_digest")
    assert verify_signature(BODY, sign_payload(BODY, SECRET), [SECRET, OLD, "whsec_third"])
    # Every secret is compared, in constant time, even after the first one matched.
    assert spy.call_count == 3
    FIGURES.outcome("webhooks/constant-time", "ok")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256",
        "sha256=zzzz",
        "md5=" + sign_payload(BODY, SECRET)[7:],
        sign_payload(BODY, SECRET)[:-1],
        sign_payload(BODY, SECRET) + "0",
        sign_payload(BODY, "whsec_wrong"),
        sign_payload(BODY + b" ", SECRET),
    ],
    ids=[
        "missing",
        "empty",
        "prefix-only",
        "no-equals",
        "not-hex",
        "wrong-scheme",
        "truncated",
        "extended",
        "wrong-secret",
        "other-body",
    ],
)
def test_bad_signatures_are_rejected(signature: str | None) -> None:
    assert verify_signature(BODY, signature, [SECRET, OLD]) is False
    FIGURES.outcome("webhooks/bad-signature", "rejected")


def test_a_non_ascii_signature_is_rejected_not_raised() -> None:
    assert verify_signature(BODY, "sha256=\xe9" + "0" * 63, SECRET) is False


def test_accepted_forms() -> None:
    good = sign_payload(BODY, SECRET)
    assert verify_signature(BODY, good, SECRET)
    assert verify_signature(BODY, good[len("sha256=") :], SECRET)  # bare hex
    assert verify_signature(BODY, good.upper().replace("SHA256=", "sha256="), SECRET)
    assert verify_signature(bytearray(BODY), f"  {good} ", [OLD, SECRET])
    assert not verify_signature(BODY.decode(), good, SECRET)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(BODY) - 1), flip=st.integers(1, 255))
def test_a_body_altered_by_one_byte_is_rejected(position: int, flip: int) -> None:
    altered = bytearray(BODY)
    altered[position] ^= flip
    assert not verify_signature(bytes(altered), sign_payload(BODY, SECRET), [SECRET, OLD])


# --- End to end: the sandbox delivers to a local receiver across a rotation -------------------


class Receiver:
    def __init__(self) -> None:
        self.url = ""
        self.secrets: list[str] = []
        self.received: list[tuple[bytes, str, bool]] = []
        self.lock = threading.Lock()

    def results(self) -> list[tuple[bytes, str, bool]]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    def respond(request: WireRequest) -> bytes:
        if request.method != "POST":
            return answer(501)
        signature = request.header("X-Planasonix-Signature") or ""
        ok = verify_signature(request.body, signature, state.secrets)
        with state.lock:
            state.received.append((request.body, signature, ok))
        return answer(200 if ok else 401)

    with serving(respond) as server:
        state.url = f"{server.url}/hook"
        yield state


def wait_for_count(receiver: Receiver, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.results()) < count:
        assert time.monotonic() < deadline, receiver.results()
        time.sleep(0.05)


def test_rotation_overlap_end_to_end(sandbox: SandboxHandle, receiver: Receiver) -> None:
    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        hook = api.create_webhook(receiver.url, ["job.succeeded"])
        assert hook.signing_secret is not None
        old = hook.signing_secret.get_secret_value()
        receiver.secrets = [old]
        api.send_test_event(hook.id, "job.succeeded")
        wait_for_count(receiver, 1)

        new = api.rotate_webhook_secret(hook.id).signing_secret.get_secret_value()
        receiver.secrets = [old, new]  # the overlap: both accepted while the rotation rolls out
        api.send_test_event(hook.id, "job.failed")
        wait_for_count(receiver, 2)

        receiver.secrets = [new]  # the old secret retired
        api.send_test_event(hook.id, "job.started")
        wait_for_count(receiver, 3)
        # The sandbox records a delivery once it has read the receiver's answer: wait for that.
        deadline = time.monotonic() + 15
        while True:
            deliveries = list(api.list_webhook_deliveries(hook.id))
            if {d.status for d in deliveries} == {"delivered"}:
                break
            assert time.monotonic() < deadline, deliveries
            time.sleep(0.05)
        api.delete_webhook(hook.id)

    results = receiver.results()
    assert [ok for _, _, ok in results] == [True, True, True]
    first, second, third = (body for body, _, _ in results)
    assert json.loads(second)["type"] == "job.failed"
    # Signed with the old secret before the rotation, the new one after.
    assert verify_signature(first, results[0][1], old) and not verify_signature(
        first, results[0][1], new
    )
    assert verify_signature(second, results[1][1], new) and not verify_signature(
        second, results[1][1], old
    )
    # A receiver that still only knew the old secret would have rejected the new deliveries.
    assert not verify_signature(third, results[2][1], [old])
    # And a one-byte change to a real delivery fails verification.
    tampered = second.replace(b"job.failed", b"job.faileD")
    assert not verify_signature(tampered, results[1][1], [old, new])
    assert len(deliveries) == 3
    FIGURES.outcome("webhooks/rotation-e2e", "all verified")
