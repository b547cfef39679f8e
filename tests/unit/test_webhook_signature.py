"""The webhook signature verifier: ``sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from planasonix_provider.api import (
    SignatureMismatchError,
    require_signature,
    sign_payload,
    verify_signature,
)
from planasonix_provider.api.webhooks import SIGNATURE_HEADER

SECRET = "whsec_01jq8secretxxxxxxxxxxxxxxxx"
OLD_SECRET = "whsec_01jq8oldsecretzzzzzzzzzzzzz"
BODY = json.dumps(
    {
        "id": "evt_01",
        "type": "job.succeeded",
        "created_at": "2025-03-27T14:55:01Z",
        "data": {"job": {"id": "job_01jq8syncabc", "status": "succeeded"}},
    }
).encode()
HEX = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_sign_payload_is_prefixed_hmac_sha256() -> None:
    assert sign_payload(BODY, SECRET) == f"sha256={HEX}"
    assert sign_payload(BODY, SECRET.encode()) == f"sha256={HEX}"
    assert sign_payload(BODY, SecretStr(SECRET)) == f"sha256={HEX}"
    assert SIGNATURE_HEADER == "X-Planasonix-Signature"


@pytest.mark.parametrize(
    "signature",
    [
        f"sha256={HEX}",
        HEX,
        HEX.upper(),
        f"sha256={HEX.upper()}",
        f"SHA256={HEX}",
        f" sha256={HEX} ",
    ],
    ids=["prefixed", "bare", "upper", "prefixed-upper", "upper-prefix", "padded"],
)
def test_valid_signatures(signature: str) -> None:
    assert verify_signature(BODY, signature, SECRET)


@pytest.mark.parametrize("secret", [SECRET, SECRET.encode(), SecretStr(SECRET)], ids=type)
def test_secret_types(secret: str | bytes | SecretStr) -> None:
    assert verify_signature(BODY, f"sha256={HEX}", secret)


def test_bytearray_body() -> None:
    assert verify_signature(bytearray(BODY), f"sha256={HEX}", SECRET)  # type: ignore[arg-type]


def test_body_altered_by_one_byte() -> None:
    altered = BODY.replace(b"succeeded", b"succeedee", 1)
    assert len(altered) == len(BODY)
    assert not verify_signature(altered, f"sha256={HEX}", SECRET)
    assert not verify_signature(BODY + b" ", f"sha256={HEX}", SECRET)


def test_wrong_secret() -> None:
    assert not verify_signature(BODY, f"sha256={HEX}", "whsec_wrong")


def test_rotation_accepts_the_old_and_the_new_secret() -> None:
    secrets = [OLD_SECRET, SECRET]
    assert verify_signature(BODY, sign_payload(BODY, SECRET), secrets)
    assert verify_signature(BODY, sign_payload(BODY, OLD_SECRET), secrets)
    assert verify_signature(BODY, sign_payload(BODY, SECRET), (s for s in secrets))
    assert not verify_signature(BODY, sign_payload(BODY, "whsec_third"), secrets)


@pytest.mark.parametrize(
    "signature",
    [None, "", "   ", "sha256=", "sha256=abc", "md5=" + HEX, HEX[:-1], HEX + "0", "sha1=" + HEX],
)
def test_missing_or_malformed_signature(signature: str | None) -> None:
    assert not verify_signature(BODY, signature, SECRET)


def test_no_secrets_verifies_nothing() -> None:
    assert not verify_signature(BODY, f"sha256={HEX}", [])


def test_a_text_body_is_refused() -> None:
    assert not verify_signature(BODY.decode(), f"sha256={HEX}", SECRET)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=64))
def test_sign_then_verify_round_trips(body: bytes, secret: str) -> None:
    signature = sign_payload(body, secret)
    assert verify_signature(body, signature, secret)
    assert verify_signature(body, signature.removeprefix("sha256="), [b"other", secret])


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=512),
    secret=st.text(min_size=1, max_size=64),
    data=st.data(),
)
def test_any_single_byte_flip_fails(body: bytes, secret: str, data: st.DataObject) -> None:
    signature = sign_payload(body, secret)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(body)
    tampered[index] ^= flip
    assert not verify_signature(bytes(tampered), signature, secret)


# --- Issue 13: every plausible encoding of the HMAC, rotation headers, a diagnosable rejection --

DIGEST = bytes.fromhex(HEX)
B64 = base64.b64encode(DIGEST).decode()
B64URL = base64.urlsafe_b64encode(DIGEST).decode().rstrip("=")


@pytest.mark.parametrize(
    "signature",
    [
        B64,
        B64URL,
        f"sha256={B64}",
        f"sha256:{HEX}",
        f"v1={HEX}",
        f"sha256={'0' * 64}, sha256={HEX}",
        f"sha256={'0' * 64} sha256={B64}",
        f"{HEX},{'f' * 64}",
    ],
    ids=[
        "base64",
        "base64url-unpadded",
        "prefixed-base64",
        "colon",
        "v1",
        "rotation-comma",
        "rotation-space",
        "rotation-first",
    ],
)
def test_other_encodings_of_the_same_hmac_verify(signature: str) -> None:
    assert verify_signature(BODY, signature, [OLD_SECRET, SECRET])
    require_signature(BODY, signature, [OLD_SECRET, SECRET])


def test_a_base64_signature_under_another_secret_does_not_verify() -> None:
    assert not verify_signature(BODY, B64, OLD_SECRET)
    assert not verify_signature(BODY, f"sha256={'0' * 64}, {B64}", [OLD_SECRET])


@pytest.mark.parametrize(
    ("signature", "described"),
    [
        (None, "no X-Planasonix-Signature header"),
        ("  ", "an empty X-Planasonix-Signature header"),
        (f"sha256={HEX[:40]}", "1 signature(s) in X-Planasonix-Signature: sha256=<40 chars"),
        (f"t=17,v1={'a' * 64}", "2 signature(s) in X-Planasonix-Signature: <4 chars"),
        (f"sha256={'0' * 64}, {base64.b64encode(bytes(32)).decode()}", "sha256=<hex>, <base64>"),
    ],
)
def test_a_rejection_says_what_form_arrived_and_nothing_secret(
    signature: str | None, described: str
) -> None:
    with pytest.raises(SignatureMismatchError) as caught:
        require_signature(BODY, signature, [SECRET, OLD_SECRET])
    message = str(caught.value)
    assert described in message
    assert "against 2 secret(s)" in message
    for secret_text in (SECRET, OLD_SECRET, HEX, B64, "a" * 64, "0" * 64):
        assert secret_text not in message
