"""The client's IP address behind trusted reverse proxies (`TRUSTED_PROXIES`), for the audit.

`X-Forwarded-For` is only believed from a configured proxy: anyone can send the header, so
from any other peer the peer's own address is the client. From a trusted peer the list is
read right to left (each proxy appends the address it saw), skipping trusted hops: the first
untrusted hop is the client. A hop that is not an address ends the walk at the last trusted
one, so garbage written by the client itself is never recorded as its address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(value: str) -> list[Network]:
    """Comma-separated addresses or CIDR ranges (`10.0.0.0/8, 127.0.0.1, ::1`); ValueError
    naming the first entry that is neither."""
    networks: list[Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR range") from None
    return networks


def _address(hop: str) -> Address | None:
    """The address in one `X-Forwarded-For` hop: bare, `ip:port` or `[ipv6]:port`."""
    hop = hop.strip()
    if hop.startswith("["):
        hop = hop[1 : hop.find("]")] if "]" in hop else ""
    elif hop.count(":") == 1:
        hop = hop.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]
) -> str | None:
    """The client's address: `peer` (the connection's other end) unless it is one of
    `proxies`, then the rightmost untrusted hop of the `X-Forwarded-For` values (several
    headers count as one list, in order). None if the peer is unknown."""
    if peer is None:
        return None
    current = _address(peer)
    if current is None or not _trusted(current, proxies):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, proxies):
            break
    return str(current)
