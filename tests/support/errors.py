"""The contract's JSON error envelope, as tests compare it whole."""


def without_request_id(body: dict) -> dict:
    """An answer's body without its ``request_id`` (new at every request): what is left is the
    same for every answer of that kind, and compared whole."""
    return {name: value for name, value in body.items() if name != "request_id"}
