"""Who a client is, for rate limits and the login lockout: its address, as one key.

An IPv4 address is its own key. An IPv6 address is keyed by its /64: a customer gets a /64 (often
a /56) for free, so keying on the full 128 bits would hand every client an unlimited supply of
fresh keys. An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is its IPv4 address. The limiter
(``app.extensions``), the login failures (``app.accounts.attempts``) and every other per-address
count use this one function.
"""

import ipaddress

from flask import request

IPV6_PREFIX = 64


def client_key(address: str | None) -> str:
    """The key of ``address``: itself for IPv4, its /64 network for IPv6 (its IPv4 address when
    it is an IPv4-mapped one); anything unreadable as an address is kept as it is (cut short)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "")[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed), IPV6_PREFIX), strict=False))
    return str(parsed)


def request_client_key() -> str:
    """The key of the request's client (``request.remote_addr``, after the trusted proxies)."""
    return client_key(request.remote_addr)
