"""The claims of Gatehouse's JWTs, by name, and what the guard learns from a bearer token.

Access tokens carry flask-praetorian's claims, which its decorators and helpers read
(``current_user_id``, ``current_rolenames``), the registered claims of RFC 7519 that any
verifying service checks, and two of ours that tie the token to its session. E-mailed tokens are
praetorian's own, plus the user's token version (and, for an e-mail change, the new address).
"""

# flask-praetorian's claims (its decorators read USER and ROLES from the verified token).
USER = "id"
ROLES = "rls"
TOKEN_ID = "jti"  # noqa: S105 (claim names, not secrets)
ISSUED_AT = "iat"
EXPIRES = "exp"
# RFC 7519's registered claims: who issued the token, for whom, about whom.
ISSUER = "iss"
AUDIENCE = "aud"
SUBJECT = "sub"
# Ours: the session an access token belongs to, and the session's generation when it was
# minted (a password change moves it on: the session's older access tokens stop working).
SESSION = "sid"
GENERATION = "gen"
# An access token minted for one organization: its id, and the caller's roles there when it was
# minted (a snapshot for other services; Gatehouse reads the membership on every request).
ORGANIZATION = "org_id"
ORGANIZATION_ROLES = "org_roles"
# The scopes a request may use (set by the guard: a session's token has every scope of its
# roles, a personal token those it was given, within its roles).
SCOPES = "scp"
# E-mailed tokens: the user's token version when it was sent (it moves on when the password or
# the address changes, voiding every such token sent before), and an e-mail change's address.
TOKEN_VERSION = "tv"  # noqa: S105
NEW_EMAIL = "new_email"

ACCESS_REQUIRED = [USER, ROLES, TOKEN_ID, ISSUED_AT, EXPIRES, ISSUER, AUDIENCE, SUBJECT, SESSION]
