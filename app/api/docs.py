"""OpenAPI fragments shared by the resources."""

BEARER_SCHEME = "bearerAuth"
BEARER_SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def requires(*roles: str) -> dict:
    """``@blp.doc`` arguments for an operation that needs a bearer token (and these roles)."""
    who = "one of the roles " + ", ".join(roles) if roles else "any signed-in user"
    return {
        "security": [{BEARER_SCHEME: []}],
        "description": f"Requires a bearer token of {who}.",
    }
