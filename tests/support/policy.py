"""Content-Security-Policy headers, read directive by directive."""

# What a page (Swagger UI, the account page) may load: its own scripts, styles, images, fonts
# and API calls; nothing inline, nothing from elsewhere, no framing, no form posted anywhere,
# no <base> rewrite.
PAGE_DIRECTIVES = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'none'"],
}
# Everything else is JSON, no page: no source of any kind, and no framing.
API_DIRECTIVES = {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header, directive by directive (each named once)."""
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = sources
    return parsed
