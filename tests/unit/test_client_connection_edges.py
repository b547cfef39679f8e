"""Connection edge cases answered as docs/connection.md promises (issue 13)."""

from __future__ import annotations

import pytest

from planasonix_provider.hooks.planasonix import (
    ConnectionSettings,
    PlanasonixConnectionError,
)

KEY = "pnx_live_edgeCaseCanary42"


def parse(host: str | None, port: int | None = None, **extra: object) -> ConnectionSettings:
    return ConnectionSettings.parse(
        "planasonix_edge", host=host, port=port, password=KEY, extra=extra
    )


@pytest.mark.parametrize(
    ("host", "port", "base_url"),
    [
        ("https://proxy.example.com/planasonix", 8443, "https://proxy.example.com:8443/planasonix"),
        ("proxy.example.com/planasonix/", 8443, "https://proxy.example.com:8443/planasonix"),
        ("https://API.Example.com/p", 8443, "https://API.Example.com:8443/p"),
        ("127.0.0.1", 8765, "https://127.0.0.1:8765"),
        ("http://127.0.0.1:8765", 8765, "http://127.0.0.1:8765"),
        ("http://[::1]/sandbox", 9000, "http://[::1]:9000/sandbox"),
        ("https://api.planasonix.com", None, "https://api.planasonix.com"),
    ],
)
def test_a_port_field_goes_into_the_authority_before_the_path(
    host: str, port: int | None, base_url: str
) -> None:
    assert parse(host, port).base_url == base_url


def test_a_url_port_and_another_port_field_are_refused_by_name() -> None:
    with pytest.raises(PlanasonixConnectionError) as caught:
        parse("https://proxy.example.com:443/planasonix", 8443)
    message = str(caught.value)
    assert "'planasonix_edge'" in message and "host (the base URL)" in message
    assert "port 443 in the URL and 8443 in the port field" in message
    assert KEY not in message


def test_empty_extras_mean_the_defaults_and_numbers_may_be_strings() -> None:
    defaults = parse("https://x.test", timeout="", retry_attempts=None, http_transport="")
    assert (defaults.timeout, defaults.retry.max_attempts, defaults.http_transport) == (
        30.0,
        5,
        "auto",
    )
    assert parse("https://x.test", timeout="12.5", retry_attempts="2").timeout == 12.5


def test_the_repr_and_every_message_leave_the_key_out() -> None:
    settings = parse("https://x.test")
    assert KEY not in repr(settings)
    with pytest.raises(PlanasonixConnectionError) as caught:
        parse(f"https://user:{KEY}@x.test", 8443)
    assert KEY not in str(caught.value)
