"""What an access token's signature costs: PyJWT signing and verifying a Gatehouse-shaped token
with EdDSA (Ed25519, the default), ES256 (P-256) and, for comparison, HS256 (what tokens were
signed with before: a shared secret). Prints microseconds per operation, the median of rounds.

    python bench/signing.py
"""

import statistics
import sys
import time
import uuid
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.tokens.key_material import generate

ROUNDS = 7
PER_ROUND = 2000


def claims() -> dict:
    now = int(time.time())
    return {
        "iss": "https://gatehouse.example",
        "aud": "https://gatehouse.example",
        "sub": "42",
        "id": 42,
        "rls": "user",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 900,
        "sid": 7,
        "gen": 0,
    }


def per_operation(action) -> float:
    """Median microseconds of ``action`` over ``ROUNDS`` rounds of ``PER_ROUND`` calls."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            action()
        rounds.append((time.perf_counter() - started) / PER_ROUND * 1e6)
    return statistics.median(rounds)


def measure(algorithm: str, private, public) -> tuple[float, float]:
    """Microseconds to sign, and to verify, one access token with ``algorithm``."""
    token = jwt.encode(claims(), private, algorithm=algorithm, headers={"kid": "k"})

    def verify() -> None:
        jwt.decode(
            token,
            public,
            algorithms=[algorithm],
            audience="https://gatehouse.example",
            issuer="https://gatehouse.example",
        )

    return per_operation(lambda: jwt.encode(claims(), private, algorithm=algorithm)), (
        per_operation(verify)
    )


def main() -> None:
    secret = "s" * 64
    ed25519, p256 = generate("EdDSA"), generate("ES256")
    setups = {
        "EdDSA": (ed25519, ed25519.public_key()),
        "ES256": (p256, p256.public_key()),
        "HS256": (secret, secret),
    }
    print(f"{'algorithm':<10}{'sign us':>10}{'verify us':>11}")
    for algorithm, (private, public) in setups.items():
        sign, verify = measure(algorithm, private, public)
        print(f"{algorithm:<10}{sign:>10.1f}{verify:>11.1f}")


if __name__ == "__main__":
    main()
