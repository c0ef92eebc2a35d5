"""Flask-Security as its quickstart sets it up: Flask-SQLAlchemy, the fsqla_v3 models,
SQLAlchemyUserDatastore, Security(app, datastore); ``GET /users/me`` behind
``auth_required("token")`` (header ``Authentication-Token``; its default 15-minute max age).

Login is Flask-Security's ``POST /login?include_auth_token`` with JSON ``email`` and
``password``; ``SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS`` is on, as its docs say for clients that
send JSON without a session (its login form checks a CSRF token otherwise). The engine has
Gatehouse's pool settings (no pre-ping): a request is one checkout, in a transaction.

The password hash is Gatehouse's argon2id (7 MiB x 5 x 1) through passlib's options, or with
PEER_HASH=default the library's own (argon2 with passlib's defaults).

    python flask_security_peer.py setup EMAIL...   (tables, and users with PEER_PASSWORD)
"""

import os
import sys

from flask import Flask, jsonify
from flask_security import Security, SQLAlchemyUserDatastore, auth_required, current_user
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["PEER_SECRET"]
app.config["SECURITY_PASSWORD_SALT"] = os.environ["PEER_SECRET"][::-1]
app.config["SQLALCHEMY_DATABASE_URI"] = (
    f"postgresql+psycopg2://{os.environ['PEER_DB_USER']}@/{os.environ['PEER_DB_NAME']}"
    f"?host={os.environ['PEER_DB_HOST']}"
)
app.config["SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS"] = True
if os.environ.get("PEER_HASH") != "default":
    app.config["SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS"] = {
        "argon2__type": "ID",
        "argon2__memory_cost": 7168,
        "argon2__rounds": 5,
        "argon2__parallelism": 1,
    }

db = SQLAlchemy(app)
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    pass


user_datastore = SQLAlchemyUserDatastore(db, User, Role)
app.security = Security(app, user_datastore)


@app.get("/users/me")
@auth_required("token")
def me():
    return jsonify({"id": current_user.id, "email": current_user.email})


def setup(emails: list[str]) -> None:
    """The tables, and an active user for each e-mail (hashed by Flask-Security)."""
    from flask_security import hash_password

    with app.app_context():
        db.create_all()
        for email in emails:
            user_datastore.create_user(
                email=email, password=hash_password(os.environ["PEER_PASSWORD"])
            )
        db.session.commit()
        db.engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] != ["setup"]:
        sys.exit("usage: flask_security_peer.py setup EMAIL...")
    setup(sys.argv[2:])
