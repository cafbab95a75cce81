"""The allow-list: addresses and networks in, yes or no out; loopback by default, ``any`` on request."""

from __future__ import annotations

import pytest

from bridge.osc.allow import AllowList, is_loopback_host


def test_the_default_admits_this_computer_only() -> None:
    allow = AllowList.parse(())
    assert allow.describe() == "127.0.0.0/8 ::1/128"
    assert allow.admits("127.0.0.1") and allow.admits("127.0.0.2") and allow.admits("::1")
    assert allow.admits("::ffff:127.0.0.1"), "a dual-stack socket's IPv4 client"
    assert not allow.admits("192.168.1.7") and not allow.admits("::ffff:192.168.1.7") and not allow.admits("fe80::1")
    assert not allow.admits("not-an-address")


def test_networks_and_addresses() -> None:
    allow = AllowList.parse(["192.168.1.0/24", "10.0.0.5", "fd00::/8"])
    assert allow.describe() == "192.168.1.0/24 10.0.0.5/32 fd00::/8"
    assert allow.admits("192.168.1.200") and allow.admits("10.0.0.5") and allow.admits("fd00::42")
    assert not allow.admits("192.168.2.1") and not allow.admits("10.0.0.6") and not allow.admits("127.0.0.1")
    assert AllowList.parse(["192.168.1.7/24"]).describe() == "192.168.1.0/24", "host bits are forgiven"


def test_any_admits_everyone() -> None:
    allow = AllowList.parse(["any"])
    assert allow.networks is None and allow.describe() == "any"
    assert allow.admits("203.0.113.9") and allow.admits("garbage")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["192.168.1.0/33"], "allow = '192.168.1.0/33': not an IP address or network; give one like 192.168.1.20, "
                             "192.168.1.0/24 or fd00::/8, or 'any'"),
        (["studio.local"], "allow = 'studio.local': not an IP address or network"),
        (["any", "10.0.0.0/8"], "allow = any 10.0.0.0/8: 'any' admits every address, give it alone"),
    ],
)
def test_bad_values_name_what_is_accepted(specs: list[str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        AllowList.parse(specs)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("::", False), ("192.168.1.7", False),
                                                ("studio.local", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
