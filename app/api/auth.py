"""Tokens: signing in (a new session), refreshing (rotation), signing out (the session ends).

Browser mode (``REFRESH_COOKIE=true``): the refresh token travels in an ``HttpOnly; Secure;
SameSite=Strict`` cookie, scoped to the two routes that read it (``/refresh`` and ``/logout``),
instead of the body, so that scripts in the page never see it. Those two routes then refuse a
request without the ``X-Requested-With`` header (OWASP's custom request header defence: a
cross-site form cannot send one, and a cross-site script may only where CORS allows it, which
is ``CORS_ORIGINS`` alone).
"""

from flask import current_app, make_response, request, url_for

from app.api.blueprint import Blueprint
from app.auth import mfa
from app.auth.guard import current_user
from app.auth.login import authenticate, check_current_password
from app.auth.sessions import (
    current_session,
    end_session,
    mark_authenticated,
    rotate,
    start_session,
    tokens,
)
from app.errors import ApiError
from app.extensions import db, limiter
from app.models import User, UserSession
from app.schemas.auth import (
    LoginAnswerSchema,
    LoginSchema,
    ReauthenticateSchema,
    RefreshSchema,
    TokenSchema,
)
from app.schemas.common import ErrorSchema

blp = Blueprint("auth", __name__, url_prefix="/", description="Tokens and sessions.")

REFRESH_COOKIE_NAME = "gatehouse_refresh"
CSRF_HEADER = "X-Requested-With"
COOKIE_ROUTES = ("auth.refresh", "auth.logout")
COOKIE_ATTRIBUTES = {"secure": True, "httponly": True, "samesite": "Strict"}


def browser_mode() -> bool:
    return current_app.config["REFRESH_COOKIE"]


def refuse_cross_site() -> None:
    """In browser mode, a request the cookie rides on must carry the custom header."""
    if browser_mode() and not request.headers.get(CSRF_HEADER):
        raise ApiError(403, "forbidden", f"Send the {CSRF_HEADER} header with this request.")


def answer_with_tokens(
    user: User, session: UserSession, refresh_token: str, schema=TokenSchema, **extra
):
    """The login-shaped answer (with ``extra`` fields of ``schema``): the refresh token in the
    body, or in browser mode in the cookie (and not in the body)."""
    body = tokens(user, session, refresh_token) | extra
    if not browser_mode():
        return body
    del body["refresh_token"]
    response = make_response(schema().dump(body))
    for endpoint in COOKIE_ROUTES:
        response.set_cookie(
            REFRESH_COOKIE_NAME,
            refresh_token,
            max_age=body["refresh_expires_in"],
            path=url_for(endpoint),
            **COOKIE_ATTRIBUTES,
        )
    return response


@blp.route("login", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(LoginSchema)
@blp.response(200, LoginAnswerSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Unknown user or wrong password.")
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="account_disabled, or mfa_enrollment_required: the account has a role in "
    "MFA_REQUIRED_ROLES and no MFA yet; details.enrollment_token (for details.expires_in "
    "seconds) is good for POST /login/mfa/enroll and /login/mfa/enroll/confirm only.",
)
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def login(credentials):
    """Start a session: exchange a username and password for an access and a refresh token
    (with MFA on: for an mfa_token, to finish at POST /login/mfa)."""
    user = authenticate(credentials["username"], credentials["password"])
    if user.mfa_enabled:
        db.session.commit()
        return {
            "mfa_required": True,
            "mfa_token": mfa.issue_token(user, mfa.MFA_AUDIENCE, mfa.MFA_TOKEN_LIFESPAN),
            "expires_in": mfa.MFA_TOKEN_LIFESPAN,
        }
    if mfa.must_enrol(user):
        db.session.commit()
        raise ApiError(
            403,
            "mfa_enrollment_required",
            "This account must turn on two-step sign-in first: POST /login/mfa/enroll with "
            "the enrollment_token, then /login/mfa/enroll/confirm with a code.",
            {
                "enrollment_token": mfa.issue_token(
                    user, mfa.ENROLMENT_AUDIENCE, mfa.ENROLMENT_TOKEN_LIFESPAN
                ),
                "expires_in": mfa.ENROLMENT_TOKEN_LIFESPAN,
            },
        )
    return sign_in(user)


def sign_in(user: User, schema=TokenSchema, **extra):
    """Start a session for ``user``, who proved every factor, and answer with its tokens."""
    session, refresh_token = start_session(user)
    answer = answer_with_tokens(user, session, refresh_token, schema=schema, **extra)
    db.session.commit()
    return answer


@blp.route("refresh", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REFRESH"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(
    401,
    schema=ErrorSchema,
    description="missing_token, invalid_token (not one of ours), token_expired (the session "
    "expired) or token_revoked (the session ended, or the token was used already: the session "
    "ends).",
)
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="account_disabled; in browser mode, forbidden without X-Requested-With.",
)
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def refresh(payload):
    """Exchange the session's refresh token for new tokens, at any time; the token presented
    is retired, and presenting it again ends the session."""
    refuse_cross_site()
    presented = payload.get("refresh_token")
    if presented is None and browser_mode():
        presented = request.cookies.get(REFRESH_COOKIE_NAME)
    if presented is None:
        raise ApiError(401, "missing_token", "Send the session's refresh token.")
    user, session, refresh_token = rotate(presented)
    answer = answer_with_tokens(user, session, refresh_token)
    db.session.commit()
    return answer


@blp.route("logout", methods=["POST"])
@blp.auth_required
@blp.response(204)
def logout():
    """End the session of this access token: its access and refresh tokens stop working."""
    refuse_cross_site()
    end_session(current_session(), "logout")
    db.session.commit()
    response = make_response("", 204)
    if browser_mode():
        for endpoint in COOKIE_ROUTES:
            response.delete_cookie(REFRESH_COOKIE_NAME, path=url_for(endpoint), **COOKIE_ATTRIBUTES)
    return response


@blp.route("reauthenticate", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.auth_required(
    unauthorized="invalid_credentials (the password is wrong, see details.password; counted "
    "like a failed login), or no usable token: missing_token, invalid_token, token_expired or "
    "token_revoked."
)
@blp.arguments(ReauthenticateSchema)
@blp.response(204)
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def reauthenticate(payload):
    """Confirm your password (and, with MFA on, a code): for REAUTH_WINDOW seconds this session
    may make sensitive changes."""
    user = current_user()
    if user.mfa_enabled and "code" not in payload:
        raise ApiError(
            422, "validation_error", details={"code": ["A code is required: MFA is on."]}
        )
    check_current_password(user, payload["password"], "password")
    if user.mfa_enabled:
        mfa.check_code(user, payload["code"], recovery=True)
    mark_authenticated(current_session())
    db.session.commit()
    return "", 204
