"""Who may talk to the daemon: an allow-list of IP networks, checked on every datagram and TCP
connection before anything is parsed (sans-IO: addresses in, yes or no out).

OSC has no authentication, so the address a packet comes from is the only thing to go by. The
default admits this computer only (``127.0.0.0/8`` and ``::1``); ``any`` admits every address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ANY = "any"
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class AllowList:
    """The networks whose packets are served; ``networks`` None admits every address.

    Build one with :meth:`parse`.
    """

    networks: tuple[IpNetwork, ...] | None

    @classmethod
    def parse(cls, specs: Sequence[str]) -> AllowList:
        """An allow-list from ``--allow`` values: addresses, ``ADDR/PREFIX`` networks, or ``any`` alone.

        Args:
            specs: the values; empty means this computer only (loopback).

        Raises:
            ValueError: a value that is not an IPv4/IPv6 address or network, or ``any`` given with others;
                the message names the value and what is accepted.
        """
        if not specs:
            specs = LOOPBACK_NETWORKS
        if ANY in specs:
            if len(specs) > 1:
                raise ValueError(f"allow = {' '.join(specs)}: 'any' admits every address, give it alone")
            return cls(None)
        networks = []
        for spec in specs:
            try:
                networks.append(ipaddress.ip_network(spec, strict=False))
            except ValueError:
                raise ValueError(f"allow = {spec!r}: not an IP address or network; give one like 192.168.1.20, "
                                 f"192.168.1.0/24 or fd00::/8, or 'any'") from None
        return cls(tuple(networks))

    def admits(self, host: str) -> bool:
        """Whether packets from ``host`` (an address as the socket reports it) are served."""
        if self.networks is None:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
        return any(address in network for network in self.networks)

    def describe(self) -> str:
        """The list as the log and ``--allow`` write it: ``127.0.0.0/8 ::1/128`` or ``any``."""
        return ANY if self.networks is None else " ".join(str(network) for network in self.networks)


def is_loopback_host(host: str) -> bool:
    """Whether listening on ``host`` keeps the socket on this computer (``127.0.0.1``, ``::1``, ``localhost``).

    Any other name or address (``0.0.0.0``, ``::``, a LAN address, a host name) counts as the network.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
