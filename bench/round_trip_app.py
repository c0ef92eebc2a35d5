"""The yardstick: the most the same stack can do for a request that needs the database once.
Flask and Flask-SQLAlchemy, one ``SELECT 1`` a request on a pooled connection (autocommit, as
Gatehouse's reads run: one round trip, no BEGIN or ROLLBACK), a JSON answer; served exactly like
Gatehouse and configured from the same DATABASE_URL and pool settings."""

import os

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
    "pool_size": int(os.environ.get("DATABASE_POOL_SIZE", "5")),
    "isolation_level": "AUTOCOMMIT",
}
db = SQLAlchemy(app)


@app.get("/")
def one_round_trip():
    return jsonify({"status": db.session.execute(text("SELECT 1")).scalar_one()})
