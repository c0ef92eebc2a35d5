"""A worker's verified access tokens (``app.tokens.verified``): the cache gives what the plain
path gives, and lets through no token that PyJWT would refuse. (Revocation on the very next
request, in every worker of a real server: tests/test_token_cache_e2e.py.)"""

import base64
import json
import time

import pytest

from app.config import FAST_PATHS
from app.tokens import access, keys
from app.tokens.verified import VerifiedTokens, digest
from tests.support.signin import bearer
from tests.support.signing_keys import retire_the_signing_key

ALL_ON = set(FAST_PATHS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def _claims(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _answer(client, token: str) -> tuple[int, str]:
    response = client.get("/users/me", headers=bearer(token))
    body = response.get_json()
    return response.status_code, body.get("error", body.get("username"))


def _cache(app) -> VerifiedTokens:
    return app.extensions[access.VERIFIED_TOKENS]


def test_a_cached_token_reads_as_pyjwt_verified_it(app, member, token_for) -> None:
    token = token_for(member)

    with app.test_request_context():
        verified = access.read(token)
        again = access.read(token)
        app.config["FAST_PATHS"] = ALL_ON - {"token_cache"}
        plain = access.read(token)

    assert again is verified
    assert dict(verified) == plain
    assert len(_cache(app)) == 1
    with pytest.raises(TypeError):
        verified["rls"] = "admin"  # type: ignore[index]


def test_a_payload_changed_under_a_cached_tokens_signature_is_refused(
    client, admin, member, token_for
) -> None:
    header, payload, signature = _segments(token_for(member))
    claims = _claims(payload) | {"rls": "admin", "id": admin.id, "sub": str(admin.id)}
    tampered = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    spliced = f"{header}.{_segments(token_for(admin))[1]}.{signature}"
    genuine = f"{header}.{payload}.{signature}"

    answers = [_answer(client, genuine) for _ in range(3)]

    assert answers == [(200, "member")] * 3
    assert _answer(client, tampered) == (401, "invalid_token")
    assert _answer(client, spliced) == (401, "invalid_token")
    assert _answer(client, genuine) == (200, "member")


def test_the_cache_forgets_a_token_at_its_exp() -> None:
    cache = VerifiedTokens(size=4)
    now = int(time.time())
    cache.put(b"lapsed", {"exp": now, "id": 1}, "verifier")
    cache.put(b"live", {"exp": now + 60, "id": 2}, "verifier")

    assert cache.get(b"lapsed", "verifier") is None
    assert cache.get(b"live", "verifier") == {"exp": now + 60, "id": 2}
    assert len(cache) == 1


def test_the_cache_keeps_the_most_recently_used_within_its_size() -> None:
    cache = VerifiedTokens(size=3)
    later = int(time.time()) + 60
    for number in range(3):
        cache.put(digest(f"token-{number}"), {"exp": later, "id": number}, "verifier")
    cache.get(digest("token-0"), "verifier")  # now the most recently used

    cache.put(digest("token-3"), {"exp": later, "id": 3}, "verifier")

    assert len(cache) == 3
    assert cache.get(digest("token-1"), "verifier") is None
    assert [cache.get(digest(f"token-{n}"), "verifier")["id"] for n in (0, 2, 3)] == [0, 2, 3]


def test_the_cache_stays_bounded_under_a_flood_of_distinct_valid_tokens(
    app, make_app, member, token_for
) -> None:
    app.config["SESSIONS_PER_USER"] = 50  # (each token here is a session of its own)
    small = make_app(ACCESS_TOKEN_CACHE_SIZE=8)
    client = small.test_client()
    tokens = [token_for(member) for _ in range(40)]

    answers = {_answer(client, token) for token in tokens}
    held = len(_cache(small))
    again = {_answer(client, token) for token in tokens[:5]}

    assert answers == again == {(200, "member")}
    assert held == 8
    assert len(_cache(small)) == 8


def test_a_different_verifier_drops_the_whole_cache() -> None:
    cache = VerifiedTokens(size=4)
    later = int(time.time()) + 60
    cache.put(b"one", {"exp": later}, ("kid-a", "kid-b"))
    cache.put(b"two", {"exp": later}, ("kid-a", "kid-b"))

    assert cache.get(b"one", ("kid-b",)) is None
    assert len(cache) == 0
    assert cache.get(b"two", ("kid-a", "kid-b")) is None


def test_a_retired_key_is_refused_though_its_token_was_cached(
    app, client, runner, member, token_for
) -> None:
    old_token = token_for(member)
    assert [_answer(client, old_token) for _ in range(2)] == [(200, "member")] * 2
    retire_the_signing_key(app, runner)
    # (This worker reads the keys again, as it does every minute.)
    app.extensions[keys.EXTENSION].forget()

    assert _answer(client, old_token) == (401, "invalid_token")
    assert _answer(client, token_for(member)) == (200, "member")


def test_another_audience_refuses_a_cached_token(app, client, member, token_for) -> None:
    token = token_for(member)
    assert _answer(client, token) == (200, "member")

    app.config["JWT_AUDIENCE"] = "another-service"

    assert _answer(client, token) == (401, "invalid_token")


def _odd_tokens(token: str) -> dict[str, str]:
    """Tokens whose header or shape is wrong in each way the ``kid`` reading meets."""
    header, payload, signature = _segments(token)
    kid = _claims(header)["kid"]

    def with_header(value) -> str:
        return f"{_b64(json.dumps(value).encode())}.{payload}.{signature}"

    return {
        "genuine": token,
        "two segments": f"{header}.{payload}",
        "four segments": f"{token}.{signature}",
        "header not base64": f"!!{header[2:]}.{payload}.{signature}",
        "header not JSON": f"{_b64(b'{not json')}.{payload}.{signature}",
        "header a list": with_header([kid]),
        "header nested deep": f"{_b64(b'[' * 100_000)}.{payload}.{signature}",
        "kid a number": with_header({"alg": "EdDSA", "kid": 17}),
        "no kid": with_header({"alg": "EdDSA"}),
        "unknown kid": with_header({"alg": "EdDSA", "kid": "elsewhere"}),
        "payload not base64": f"{header}.!!{payload[2:]}.{signature}",
        "signature not base64": f"{header}.{payload}.!!{signature[2:]}",
        "non-ASCII header": f"é{header}.{payload}.{signature}",
        "empty": "..",
    }


def test_odd_tokens_are_refused_alike_with_the_cache_on_or_off(make_app, member, token_for) -> None:
    """Every malformed or foreign token is refused with 401 ``invalid_token`` (never a 500),
    and the cache changes no answer: the genuine token is accepted by both."""
    cached = make_app(FAST_PATHS=ALL_ON).test_client()
    uncached = make_app(FAST_PATHS=ALL_ON - {"token_cache"}).test_client()
    tokens = _odd_tokens(token_for(member))

    # (each twice: the second answer of the cached app comes from its cache, if anything does)
    answers = {
        name: (_answer(cached, token), _answer(cached, token)) for name, token in tokens.items()
    }
    plain = {name: (_answer(uncached, token),) * 2 for name, token in tokens.items()}

    assert answers == plain
    assert answers["genuine"] == ((200, "member"),) * 2
    assert {answer for name, answer in answers.items() if name != "genuine"} == {
        ((401, "invalid_token"),) * 2
    }
