"""``OIDC_PROVIDERS``, read and checked; the names providers may have; and what an exact origin
is (``CORS_ORIGINS`` with credentials)."""

import json
import os
import re
from urllib.parse import urlsplit

from app.config.env import ConfigError

LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
LOOPBACK_NAMES = (*LOOPBACK_ADDRESSES, "localhost")


# A provider's name, here and in paths (app.api.providers.ProviderName): a letter first, and never
# a word a path under /login/oidc/ already holds (POST /login/oidc/exchange).
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
RESERVED_PROVIDER_NAMES = ("exchange",)


def providers_from_env() -> list[dict]:
    """``OIDC_PROVIDERS``: a JSON list of providers, each with a name (lower-case letters,
    digits, ``-``), its issuer (whose discovery document is read), a client id and secret."""
    raw = os.environ.get("OIDC_PROVIDERS", "").strip()
    if not raw:
        return []
    try:
        providers = json.loads(raw)
    except ValueError:
        raise ConfigError("OIDC_PROVIDERS must be a JSON list of providers") from None
    required = ("name", "issuer", "client_id", "client_secret")
    if not isinstance(providers, list) or not all(
        isinstance(entry, dict) and all(isinstance(entry.get(key), str) for key in required)
        for entry in providers
    ):
        raise ConfigError(f"OIDC_PROVIDERS: each provider needs {', '.join(required)}")
    names = [entry["name"] for entry in providers]
    if len(set(names)) != len(names) or not all(PROVIDER_NAME.fullmatch(n) for n in names):
        raise ConfigError("OIDC_PROVIDERS: names must be unique: a-z, then a-z, 0-9, '-'")
    if reserved := sorted(set(names) & set(RESERVED_PROVIDER_NAMES)):
        raise ConfigError(f"OIDC_PROVIDERS: {', '.join(reserved)} cannot name a provider")
    for entry in providers:
        issuer = urlsplit(entry["issuer"])
        loopback = issuer.scheme == "http" and issuer.hostname in LOOPBACK_NAMES
        if not (issuer.scheme == "https" or loopback) or not issuer.hostname:
            raise ConfigError(
                f"OIDC_PROVIDERS: the issuer of {entry['name']} must be an https:// URL "
                "(http:// only on this machine, outside production)"
            )
    return providers


# An origin exactly as browsers send it: scheme, host, port; no path, pattern or wildcard.
EXACT_ORIGIN = re.compile(
    r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?"
)

DEFAULT_PORTS = {"http": 80, "https": 443}


def written_origin(scheme: str, host: str, port: int) -> str:
    """An origin as webhooks compare them: ``scheme://host:port``, lower case, the port written
    out, an IPv6 host in brackets."""
    host = host.lower()
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def normalized_origin(origin: str) -> str:
    """``scheme://host[:port]`` as ``written_origin`` writes it (WEBHOOK_ALLOWED_ORIGINS)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        port, parts = None, None
    if parts is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin (scheme://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r} is not an origin (scheme://host:port)")
    return written_origin(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme])
