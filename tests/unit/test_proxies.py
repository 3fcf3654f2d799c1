"""The client IP behind trusted proxies: X-Forwarded-For only from a configured proxy,
read right to left past trusted hops."""

import pytest

from core.config import load_settings
from core.errors import ConfigError
from core.proxies import client_ip, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # An untrusted peer's header is ignored, however plausible.
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),
        ("127.0.0.1", ["203.0.113.9"], "127.0.0.1"),
        # A trusted proxy: the hop it saw is the client.
        ("10.1.2.3", ["203.0.113.9"], "203.0.113.9"),
        # A client prepending a fake hop: the proxy appended the real one, rightmost.
        ("10.1.2.3", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        # A chain of trusted proxies is walked through; several headers are one list.
        ("192.0.2.1", ["203.0.113.9, 10.9.9.9"], "203.0.113.9"),
        ("192.0.2.1", ["6.6.6.6", "203.0.113.9", "10.9.9.9"], "203.0.113.9"),
        # Ports and brackets as some proxies write them; IPv6 proxies.
        ("10.1.2.3", ["203.0.113.9:51234"], "203.0.113.9"),
        ("2001:db8::5", ["[2001:db8:ffff::1]:443, 198.51.100.8"], "198.51.100.8"),
        # Garbage stops the walk at the last trusted hop, never recorded as the client.
        ("10.1.2.3", ["203.0.113.9, not-an-ip"], "10.1.2.3"),
        ("10.1.2.3", ["203.0.113.9, not-an-ip, 10.4.4.4"], "10.4.4.4"),
        # No header from a trusted proxy, every hop trusted, unknown peer.
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["10.7.7.7, 10.8.8.8"], "10.7.7.7"),
        (None, ["203.0.113.9"], None),
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop_behind_a_trusted_peer(peer, forwarded, expected):
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_always_the_client():
    assert client_ip("10.1.2.3", ["203.0.113.9"], []) == "10.1.2.3"


def test_trusted_proxies_setting_takes_addresses_and_ranges_and_names_a_bad_entry():
    settings = load_settings(trusted_proxies="127.0.0.1, 10.0.0.0/8,::1")
    assert [str(net) for net in settings.trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert load_settings().trusted_proxies == []
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES.*'10.0.0.300'"):
        load_settings(trusted_proxies="10.0.0.300")
