"""Accounts: users, kiosk tokens for wall screens, API tokens, sign-in sessions, and their audit.

Every write to sign-in state goes through ``Accounts`` (the CLI ``python -m feeds users|kiosk|tokens``,
the admin page and the sign-in pages use it), and every change is recorded in the audit stream with
who and when. Nothing secret is stored in clear: passwords as werkzeug scrypt hashes, tokens and
session ids as their SHA-256. A token is shown once, when it is made.

Roles, each including the rights of the ones before it: ``viewer`` (reads every page and KPI),
``coordinator`` (also acknowledges and assigns alerts, annotates), ``admin`` (also users, tokens and
alert rules). A kiosk is a wall screen: read-only whatever else it says.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from feeds.config import ConfigError
from feeds.framework import trim_args, trim_by_age
from feeds.schema import AUTH_AUDIT_RETENTION, Keys

ROLES = ("viewer", "coordinator", "admin")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}")
MIN_PASSWORD = 10
PASSWORD_METHOD = "scrypt"  # werkzeug's scrypt (n=2**15, r=8, p=1), salted per password
KIOSK_PREFIX, API_PREFIX = "cbk_", "cba_"  # recognisable by secret scanners and by eye


class AccountError(ValueError):
    """A refused account change, with a one-line reason for the operator."""


class AuthSection(BaseModel):
    """CITY_CONFIG ``auth``: sign-in limits. Sessions' length is the SESSION_HOURS setting."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_failures: int = Field(10, ge=1)  # failed sign-ins in a row before the name is locked out...
    lockout_s: int = Field(900, ge=1)  # ...for this long
    kiosk_check_s: float = Field(3, ge=0, le=60)  # a worker re-checks a kiosk's token at least this often


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(generate_password_hash(secrets.token_hex(16), method=PASSWORD_METHOD))
    return _DUMMY[0]


def auth_section(city) -> AuthSection:
    try:
        return AuthSection.model_validate(city.auth or {})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(section)"
        raise ConfigError(f"CITY_CONFIG auth.{where}: {err['msg']}") from None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def _s(value) -> str:
    """Text from a Redis reply (clients with or without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AccountError(f"{what} must be 1-64 letters, digits, '_', '.', '@' or '-', got {name!r}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


class Accounts:
    def __init__(self, r: redis.Redis, keys: Keys):
        self.r, self.keys = r, keys

    # ----------------------------------------------------------------------- audit
    def _audit(self, pipe, action: str, by: str, subject: str, now: float, **detail: Any) -> None:
        pipe.xadd(self.keys.auth_audit(), {"action": action, "by": by, "subject": subject, "at": now,
                                           "detail": orjson.dumps(detail)}, **trim_args(AUTH_AUDIT_RETENTION))
        trim_by_age(pipe, self.keys.auth_audit(), AUTH_AUDIT_RETENTION, now)

    def audit(self, count: int = 100) -> list[dict]:
        """Newest first: {at, action, by, subject, detail}."""
        out = []
        for _, f in self.r.xrevrange(self.keys.auth_audit(), count=count):
            f = {_s(k): _s(v) for k, v in f.items()}
            out.append({"at": float(f["at"]), "action": f["action"], "by": f["by"], "subject": f["subject"],
                        "detail": orjson.loads(f["detail"])})
        return out

    # ----------------------------------------------------------------------- users
    def user(self, name: str) -> dict | None:
        raw = self.r.hget(self.keys.auth_users(), name)
        return orjson.loads(raw) if raw else None

    def users(self) -> list[dict]:
        """Every user, by name, without the password hash."""
        out = [orjson.loads(v) for v in self.r.hvals(self.keys.auth_users())]
        for u in out:
            u.pop("password", None)
        return sorted(out, key=lambda u: u["name"])

    def add_user(self, name: str, role: str, password: str, by: str, now: float | None = None,
                 password_hash: str | None = None) -> dict:
        check_name(name, "user name")
        check_role(role)
        if password_hash is None:
            password_hash = generate_password_hash(check_password(password), method=PASSWORD_METHOD)
        now = time.time() if now is None else now
        record = {"name": name, "role": role, "password": password_hash, "disabled": False,
                  "created_at": now, "created_by": by, "updated_at": now, "updated_by": by}
        if not self.r.hsetnx(self.keys.auth_users(), name, orjson.dumps(record)):
            raise AccountError(f"user {name!r} exists already")
        pipe = self.r.pipeline(transaction=False)
        self._audit(pipe, "user.add", by, name, now, role=role)
        pipe.execute()
        return {k: v for k, v in record.items() if k != "password"}

    def _change_user(self, name: str, by: str, action: str, change, end_sessions: bool, now: float | None,
                     **detail) -> dict:
        now = time.time() if now is None else now

        def tx(pipe):
            raw = pipe.hget(self.keys.auth_users(), name)
            if not raw:
                raise AccountError(f"no user {name!r}")
            record = orjson.loads(raw)
            change(record)
            record.update(updated_at=now, updated_by=by)
            pipe.multi()
            pipe.hset(self.keys.auth_users(), name, orjson.dumps(record))
            self._audit(pipe, action, by, name, now, **detail)
            return record

        record = self.r.transaction(tx, self.keys.auth_users(), value_from_callable=True)
        if end_sessions:
            self.end_sessions("user", name)
        return {k: v for k, v in record.items() if k != "password"}

    def set_role(self, name: str, role: str, by: str, now: float | None = None) -> dict:
        check_role(role)
        return self._change_user(name, by, "user.role", lambda u: u.update(role=role), False, now, role=role)

    def disable(self, name: str, by: str, now: float | None = None) -> dict:
        return self._change_user(name, by, "user.disable", lambda u: u.update(disabled=True), True, now)

    def enable(self, name: str, by: str, now: float | None = None) -> dict:
        return self._change_user(name, by, "user.enable", lambda u: u.update(disabled=False), False, now)

    def set_password(self, name: str, password: str, by: str, now: float | None = None) -> dict:
        hashed = generate_password_hash(check_password(password), method=PASSWORD_METHOD)
        self.r.delete(self.keys.auth_login_failures(name))
        return self._change_user(name, by, "user.password", lambda u: u.update(password=hashed), True, now)

    def check_login(self, name: str, password: str, max_failures: int = 10, lockout_s: int = 900,
                    now: float | None = None) -> tuple[dict | None, str]:
        """(user without its hash, "") when the name and password match an enabled user; else
        (None, reason). Failures in a row lock the name out for ``lockout_s``."""
        now = time.time() if now is None else now
        if not isinstance(name, str) or not NAME_RE.fullmatch(name or ""):
            return None, "wrong name or password"
        failures_key = self.keys.auth_login_failures(name)
        failures = int(self.r.get(failures_key) or 0)
        if failures >= max_failures:
            return None, "too many failed attempts: try again later"
        record = self.user(name)
        # An unknown name costs the same hash check as a known one: timing does not tell which names exist.
        hashed = record["password"] if record else _dummy_hash()
        if not check_password_hash(hashed, password or "") or record is None:
            pipe = self.r.pipeline(transaction=True)
            pipe.incr(failures_key)
            pipe.expire(failures_key, lockout_s)
            self._audit(pipe, "login.failed", name, name, now)
            pipe.execute()
            return None, "wrong name or password"
        if record.get("disabled"):
            return None, "this account is disabled"
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(failures_key)
        self._audit(pipe, "login", name, name, now)
        pipe.execute()
        return {k: v for k, v in record.items() if k != "password"}, ""

    # ----------------------------------------------------------------------- kiosk tokens
    def kiosks(self) -> list[dict]:
        return sorted((orjson.loads(v) for v in self.r.hvals(self.keys.auth_kiosks())), key=lambda k: k["name"])

    def kiosk(self, name: str) -> dict | None:
        raw = self.r.hget(self.keys.auth_kiosks(), name)
        return orjson.loads(raw) if raw else None

    def add_kiosk(self, name: str, by: str, now: float | None = None) -> str:
        """A new kiosk token for the screen ``name`` (shown once: only its SHA-256 is kept). A revoked
        screen's name may be given a new token; a live one may not."""
        check_name(name, "screen name")
        return self._add_token(self.keys.auth_kiosks(), self.keys.auth_kiosk_index(), KIOSK_PREFIX, name, by, now,
                               f"screen {name!r} has a live kiosk token: revoke it first", "kiosk.add", {})

    def revoke_kiosk(self, name: str, by: str, now: float | None = None) -> dict:
        record = self._revoke_token(self.keys.auth_kiosks(), self.keys.auth_kiosk_index(), name, by, now,
                                    f"screen {name!r}", "kiosk.revoke")
        self.end_sessions("kiosk", name)
        return record

    def kiosk_for_token(self, token: str) -> dict | None:
        """The live screen a kiosk token belongs to, or None."""
        return self._record_for_token(self.keys.auth_kiosks(), self.keys.auth_kiosk_index(), KIOSK_PREFIX, token)

    # ----------------------------------------------------------------------- API tokens
    def api_tokens(self) -> list[dict]:
        return sorted((orjson.loads(v) for v in self.r.hvals(self.keys.auth_api_tokens())),
                      key=lambda t: t["name"])

    def add_api_token(self, name: str, role: str, by: str, now: float | None = None) -> str:
        check_name(name, "token name")
        check_role(role)
        return self._add_token(self.keys.auth_api_tokens(), self.keys.auth_api_token_index(), API_PREFIX, name, by,
                               now, f"API token {name!r} exists and is live: revoke it first", "token.add",
                               {"role": role})

    def revoke_api_token(self, name: str, by: str, now: float | None = None) -> dict:
        return self._revoke_token(self.keys.auth_api_tokens(), self.keys.auth_api_token_index(), name, by, now,
                                  f"API token {name!r}", "token.revoke")

    def api_token_for(self, token: str) -> dict | None:
        """The live API token record a Bearer token matches, or None."""
        return self._record_for_token(self.keys.auth_api_tokens(), self.keys.auth_api_token_index(), API_PREFIX,
                                      token)

    # --- kiosk and API tokens alike: records by name, an index sha256 -> name ---------------
    def _add_token(self, records: str, index: str, prefix: str, name: str, by: str, now: float | None,
                   live_error: str, action: str, extra: dict) -> str:
        now = time.time() if now is None else now
        token = new_token(prefix)
        digest = sha256(token)

        def tx(pipe):
            old = pipe.hget(records, name)
            if old and not orjson.loads(old).get("revoked_at"):
                raise AccountError(live_error)
            pipe.multi()
            if old:
                pipe.hdel(index, orjson.loads(old)["sha256"])
            pipe.hset(records, name, orjson.dumps(
                {"name": name, **extra, "sha256": digest, "created_at": now, "created_by": by,
                 "revoked_at": None, "revoked_by": None}))
            pipe.hset(index, digest, name)
            self._audit(pipe, action, by, name, now, **extra)

        self.r.transaction(tx, records)
        return token

    def _revoke_token(self, records: str, index: str, name: str, by: str, now: float | None, what: str,
                      action: str) -> dict:
        now = time.time() if now is None else now

        def tx(pipe):
            raw = pipe.hget(records, name)
            if not raw:
                raise AccountError(f"no {what}")
            record = orjson.loads(raw)
            if record.get("revoked_at"):
                raise AccountError(f"{what} is revoked already")
            record.update(revoked_at=now, revoked_by=by)
            pipe.multi()
            pipe.hset(records, name, orjson.dumps(record))
            pipe.hdel(index, record["sha256"])
            self._audit(pipe, action, by, name, now)
            return record

        return self.r.transaction(tx, records, value_from_callable=True)

    def _record_for_token(self, records: str, index: str, prefix: str, token: str) -> dict | None:
        if not isinstance(token, str) or not token.startswith(prefix):
            return None
        digest = sha256(token)
        name = self.r.hget(index, digest)
        raw = self.r.hget(records, _s(name)) if name else None
        record = orjson.loads(raw) if raw else None
        if record is None or record.get("revoked_at") or record["sha256"] != digest:
            return None
        return record

    # ----------------------------------------------------------------------- sessions
    def open_session(self, kind: str, name: str, ttl_s: float | None, now: float | None = None,
                     kiosk_sha: str = "") -> str:
        """A new session id for a signed-in user (expires after ``ttl_s``) or kiosk (``ttl_s`` None:
        never expires; ends when its token is revoked). Only the id's SHA-256 is stored."""
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(32)
        digest = sha256(sid)
        key = self.keys.auth_session(digest)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={"kind": kind, "name": name, "created": now, "sha256": kiosk_sha})
        if ttl_s is not None:
            pipe.expire(key, max(1, int(ttl_s)))
        pipe.sadd(self.keys.auth_sessions_of(kind, name), digest)
        if ttl_s is not None:  # the index outlives its newest session only a little
            pipe.expire(self.keys.auth_sessions_of(kind, name), max(1, int(ttl_s)) + 60)
        if kind == "kiosk":
            self._audit(pipe, "kiosk.signin", name, name, now)
        pipe.execute()
        return sid

    def session_and_account(self, sid: str, kind: str, name: str) -> tuple[dict, dict | None]:
        """(session record, the user or kiosk record) in one round trip; empty/None when gone."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.keys.auth_session(sha256(sid)))
        pipe.hget(self.keys.auth_users() if kind == "user" else self.keys.auth_kiosks(), name)
        raw_session, raw_account = pipe.execute()
        session = {_s(k): _s(v) for k, v in raw_session.items()}
        return session, (orjson.loads(raw_account) if raw_account else None)

    def close_session(self, sid: str, kind: str, name: str, now: float | None = None) -> None:
        digest = sha256(sid)
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.keys.auth_session(digest))
        pipe.srem(self.keys.auth_sessions_of(kind, name), digest)
        self._audit(pipe, "logout", name, name, time.time() if now is None else now)
        pipe.execute()

    def end_sessions(self, kind: str, name: str) -> int:
        """End every session of a user or kiosk (disabled, new password, token revoked)."""
        of = self.keys.auth_sessions_of(kind, name)
        digests = [_s(d) for d in self.r.smembers(of)]
        pipe = self.r.pipeline(transaction=True)
        for d in digests:
            pipe.delete(self.keys.auth_session(d))
        pipe.delete(of)
        pipe.execute()
        return len(digests)

    # ----------------------------------------------------------------------- the web app's secret
    def secret_key(self) -> str:
        """The shared Flask secret key when SECRET_KEY is unset: the first worker makes it (SET NX)."""
        self.r.set(self.keys.auth_secret(), secrets.token_hex(32), nx=True)
        return _s(self.r.get(self.keys.auth_secret()))
