"""Where a webhook may be sent: the guard against server-side request forgery (the attempt
itself, ``app.events.sending``).

- **At creation** (``url_problems``): an absolute ``https://`` URL (``http://`` only for an
  origin of ``WEBHOOK_ALLOWED_ORIGINS``), without credentials or fragment, whose host, if it is
  a literal address in any spelling the system's resolver reads (``127.1``, ``2130706433``,
  ``0x7f000001``, ``[::ffff:127.0.0.1]``...), is not in a refused range.
- **At delivery** (``vetted_addresses``, for ``app.events.sending.post``): the host is
  resolved once; every address it resolves to must be outside the refused ranges, and the
  connection goes to the address that was checked (a second look-up, which a hostile DNS server
  could answer differently, is never made), with the URL's host in the ``Host`` header and in
  TLS's server name. Redirects are not followed, the whole
  attempt (look-up, connection, request, answer) has ``WEBHOOK_TIMEOUT`` seconds, and at most
  64 KiB of the answer's body is read.

Refused: every address that is not globally routable (loopback, private, link-local with the
cloud metadata services, unique-local, shared, reserved, multicast, unspecified), IPv4 and IPv6,
and the IPv4 address inside an IPv6 one (IPv4-mapped and -compatible, 6to4, Teredo, NAT64).
``WEBHOOK_ALLOWED_ORIGINS`` (``scheme://host:port``, development and tests only: production
refuses to start with it) lets exactly those origins be reached over ``http`` and on loopback
addresses; for every other origin the guard holds in every configuration.
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookUpTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.config.providers import DEFAULT_PORTS, written_origin

MAX_URL_LENGTH = 2048
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Look-ups run here so that one that hangs cannot hold an attempt past its time.
_resolvers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL or the address it resolves to may not be reached."""


@dataclass(frozen=True)
class Target:
    """A webhook URL, read: its scheme, host (without brackets), port, path with query, and
    origin (``scheme://host:port``, lower case, the port written out)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> str:
        return written_origin(self.scheme, self.host, self.port)


def target_of(url: str) -> Target:
    """The parts of ``url``, or ``Refused`` saying what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"A URL has at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("Not a URL.") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise Refused("An absolute https:// URL is needed.")
    if parts.username is not None or parts.password is not None:
        raise Refused("A URL with credentials is not accepted: put them in the path or query.")
    if parts.fragment:
        raise Refused("A URL with a fragment is not accepted.")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise Refused("A URL has no spaces or control characters.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path)


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells, in any form the system's resolver reads as an address (no
    look-up is made), or None for a name."""
    try:
        found = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(found[0][4][0].split("%")[0])


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if address.version == 4:
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        found.extend(address.teredo)
    packed = address.packed
    if address in NAT64 or packed[:12] == bytes(12):
        found.append(ipaddress.IPv4Address(packed[12:]))
    return [ipv4 for ipv4 in found if ipv4 is not None]


def refused_range(address: Address) -> str | None:
    """Why ``address`` may not be reached (None: it is globally routable)."""
    for candidate in (*embedded_ipv4(address), address):
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local (cloud metadata)"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_unspecified or candidate.is_reserved:
            return "reserved"
        if candidate.is_private or not candidate.is_global:
            return "private"
    return None


def allowed(address: Address, target: Target, allowed_origins) -> bool:
    """Whether an attempt may go to ``address`` for ``target``: a globally routable address,
    or a loopback one for an origin of WEBHOOK_ALLOWED_ORIGINS."""
    why = refused_range(address)
    return why is None or (why == "loopback" and target.origin in allowed_origins)


def url_problems(url: str, allowed_origins) -> list[str]:
    """What makes ``url`` unacceptable as an endpoint's (none: accepted)."""
    try:
        target = target_of(url)
    except Refused as refused:
        return [str(refused)]
    if target.scheme != "https" and target.origin not in allowed_origins:
        return ["An https:// URL is needed (http:// only for WEBHOOK_ALLOWED_ORIGINS)."]
    address = literal_address(target.host)
    if address is not None and not allowed(address, target, allowed_origins):
        return [f"{address} is a {refused_range(address)} address: webhooks are not sent there."]
    return []


def _resolve(target: Target, resolver, seconds: float) -> list[Address]:
    """Every address ``target``'s host resolves to, looked up once (within ``seconds``)."""
    literal = literal_address(target.host)
    if literal is not None:
        return [literal]
    look_up = _resolvers.submit(resolver, target.host, target.port, 0, socket.SOCK_STREAM)
    try:
        found = look_up.result(timeout=max(seconds, 0.001))
    except LookUpTimeout:
        raise Refused(f"{target.host} was not resolved in time.") from None
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"{target.host} does not resolve: {error}") from None
    addresses = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Refused(f"{target.host} does not resolve.")
    return addresses


def vetted_addresses(target: Target, allowed_origins, resolver, seconds: float) -> list[Address]:
    """The addresses to connect to for ``target``; ``Refused`` if any of them may not be
    reached (a name that also resolves to a refused address is refused whole)."""
    if target.scheme != "https" and target.origin not in allowed_origins:
        raise Refused("Only https:// is sent to (http:// only for WEBHOOK_ALLOWED_ORIGINS).")
    addresses = _resolve(target, resolver, seconds)
    for address in addresses:
        if not allowed(address, target, allowed_origins):
            raise Refused(
                f"{target.host} resolves to {address}, a {refused_range(address)} address."
            )
    return addresses
