"""For scale: a bare Flask JSON endpoint, served exactly like Gatehouse (no database)."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify({"status": "ok"})
