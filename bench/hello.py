"""The ceiling for an HTTP request on this machine: a plain Flask app with one "hello" route, served by
the same gunicorn config as the app (``gunicorn bench.hello:server -c gunicorn.conf.py``). bench/screens.py
drives it with the same screens, requests and timing as the wall."""
from __future__ import annotations

from flask import Flask

server = Flask(__name__)


@server.route("/hello", methods=["GET", "POST"])
def hello():
    return {"hello": "world"}


@server.route("/healthz")
def healthz():
    return {"ok": True}
