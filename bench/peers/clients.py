"""How the runner talks to each app: signing in, the headers a token travels in, who
``GET /users/me`` says the user is, signing out, and the login request wrk repeats.

Users: bench1 logs in under load (the login rows); bench2 and bench3 are checked (each token
must give its own user) and bench2's tokens are measured; bench4's token is signed out, then
tried again. Every password is PASSWORD."""

import json
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "bench-password-1"
USERS = ("bench1", "bench2", "bench3", "bench4")
LOGIN_USER, MEASURED_USER, OTHER_USER, SIGNED_OUT_USER = USERS


def email(user: str) -> str:
    return f"{user}@example.com"


def request(base_url, method, path, headers=None, json_body=None, form=None, data=None, timeout=30):
    """One HTTP request (a JSON body, a form, or ``data`` as it is); returns (status, parsed
    JSON body or the raw text, or None)."""
    headers = dict(headers or {})
    if json_body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(json_body).encode()
    elif form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    prepared = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def expect(status: int, wanted: int, what: str, body) -> None:
    if status != wanted:
        raise RuntimeError(f"{what} answered {status}, not {wanted}: {body}")


class Client:
    """The common shape: a bearer token in Authorization, JSON bodies."""

    # Whether every request looks the token up (so a signed-out token must be refused at once).
    looked_up = False
    me_path = "/users/me"

    def sign_in(self, base_url: str, user: str) -> dict:
        raise NotImplementedError

    def headers(self, signed: dict) -> dict[str, str]:
        return {"Authorization": f"Bearer {signed['token']}"}

    def who(self, body: dict) -> str:
        """The user ``GET /users/me`` answered with, as ``expected`` names them."""
        return body["email"]

    def expected(self, user: str) -> str:
        return email(user)

    def sign_out(self, base_url: str, signed: dict) -> int | None:
        """Sign out or revoke ``signed``'s token as the library offers; its status."""
        raise NotImplementedError

    def login(self, user: str) -> tuple[str, dict[str, str], str]:
        """The login request wrk repeats: path, headers, body."""
        raise NotImplementedError


class GatehouseAccess(Client):
    looked_up = True

    def sign_in(self, base_url, user):
        status, body = request(
            base_url, "POST", "/login", json_body={"username": user, "password": PASSWORD}
        )
        expect(status, 200, f"Gatehouse login of {user}", body)
        return {"token": body["access_token"], "refresh": body["refresh_token"]}

    def who(self, body):
        return body["username"]

    def expected(self, user):
        return user

    def sign_out(self, base_url, signed):
        return request(base_url, "POST", "/logout", headers=self.headers(signed))[0]

    def login(self, user):
        body = json.dumps({"username": user, "password": PASSWORD})
        return "/login", {"Content-Type": "application/json"}, body


class GatehousePersonal(GatehouseAccess):
    """A personal token (scope profile), made once per user and run: a user holds a few."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], dict] = {}

    def sign_in(self, base_url, user):
        if (base_url, user) not in self.made:
            session = super().sign_in(base_url, user)
            status, body = request(
                base_url,
                "POST",
                "/users/me/tokens",
                headers=super().headers(session),
                json_body={"name": f"bench-{len(self.made)}", "scopes": ["profile"]},
            )
            expect(status, 201, f"a personal token of {user}", body)
            self.made[base_url, user] = {
                "token": body["token"],
                "id": body["id"],
                "session": session["token"],
            }
        return self.made[base_url, user]

    def sign_out(self, base_url, signed):
        """Revoke it (DELETE /users/me/tokens/<id>, with the session that made it)."""
        for key, made in list(self.made.items()):
            if made is signed:
                del self.made[key]
        session = {"token": signed["session"]}
        path = f"/users/me/tokens/{signed['id']}"
        return request(base_url, "DELETE", path, headers=super().headers(session))[0]


class FastAPIUsers(Client):
    """fastapi-users: its auth router's login (a form, the e-mail as username) and logout."""

    def __init__(self, backend: str) -> None:
        self.backend = backend  # "jwt" or "db"
        self.looked_up = backend == "db"

    def sign_in(self, base_url, user):
        status, body = request(
            base_url,
            "POST",
            f"/auth/{self.backend}/login",
            form={"username": email(user), "password": PASSWORD},
        )
        expect(status, 200, f"fastapi-users login of {user}", body)
        return {"token": body["access_token"]}

    def sign_out(self, base_url, signed):
        return request(
            base_url, "POST", f"/auth/{self.backend}/logout", headers=self.headers(signed)
        )[0]

    def login(self, user):
        body = urllib.parse.urlencode({"username": email(user), "password": PASSWORD})
        return (
            f"/auth/{self.backend}/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            body,
        )


class FlaskSecurity(Client):
    """Flask-Security: its JSON login with ``include_auth_token``, the token in
    ``Authentication-Token``. Requests ask for JSON: a refused one is then a 401, not its
    redirect to the login page (which wrk would not count as an error)."""

    ACCEPT = {"Accept": "application/json"}

    def sign_in(self, base_url, user):
        status, body = request(
            base_url,
            "POST",
            "/login?include_auth_token",
            headers=self.ACCEPT,
            json_body={"email": email(user), "password": PASSWORD},
        )
        expect(status, 200, f"Flask-Security login of {user}", body)
        return {"token": body["response"]["user"]["authentication_token"]}

    def headers(self, signed):
        return {"Authentication-Token": signed["token"], **self.ACCEPT}

    def sign_out(self, base_url, signed):
        return request(base_url, "POST", "/logout", headers=self.headers(signed), json_body={})[0]

    def login(self, user):
        body = json.dumps({"email": email(user), "password": PASSWORD})
        return (
            "/login?include_auth_token",
            {"Content-Type": "application/json", **self.ACCEPT},
            body,
        )


class SimpleJWT(Client):
    """DRF + simplejwt: TokenObtainPairView; signing out blacklists the refresh token."""

    def sign_in(self, base_url, user):
        status, body = request(
            base_url, "POST", "/api/token/", json_body={"username": user, "password": PASSWORD}
        )
        expect(status, 200, f"simplejwt login of {user}", body)
        return {"token": body["access"], "refresh": body["refresh"]}

    def who(self, body):
        return body["username"]

    def expected(self, user):
        return user

    def sign_out(self, base_url, signed):
        return request(
            base_url, "POST", "/api/token/blacklist/", json_body={"refresh": signed["refresh"]}
        )[0]

    def login(self, user):
        body = json.dumps({"username": user, "password": PASSWORD})
        return "/api/token/", {"Content-Type": "application/json"}, body


def tampered(token: str) -> str:
    """``token`` with its middle character changed (a dot is skipped): inside a JWT's payload
    or an opaque token's secret, so a check that accepts it checks nothing."""
    index = len(token) // 2
    while token[index] == ".":
        index += 1
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]
