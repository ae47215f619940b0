"""Private redis-server processes on loopback ports, for the TLS and Sentinel tests and the failover bench.

    certs = make_certs(tmp_path)                          # a private CA and a server certificate (openssl)
    with tls_server(tmp_path, 18601, "pw", certs) as port: ...   # rediss://:pw@127.0.0.1:18601/0?ssl_ca_certs=...
    with SentinelSet(tmp_path, 18610, "pw") as s:         # one master, one replica, three sentinels
        s.url                                             # redis+sentinel://:pw@127.0.0.1:18615,.../cbmaster/0
        s.kill_master()                                   # SIGKILL; the sentinels promote the replica

Each server runs in a folder of its own, is stopped by its PID when the block ends (and by the kernel if
the test process dies: feeds.redis_conn._die_with_parent), and binds 127.0.0.1 only.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from feeds.redis_conn import _die_with_parent, redis_server_binary

# Debian's redis-server is built with TLS; the wheel's may not be.
BINARY = shutil.which("redis-server") or redis_server_binary()


def has_tls(binary: str | None = BINARY) -> bool:
    """Whether ``binary`` was built with TLS (a build without it does not know the tls-port directive)."""
    if not binary:
        return False
    out = subprocess.run([binary, "--port", "0", "--tls-port", "1", "--save", ""], capture_output=True,
                         text=True, timeout=10)  # either build exits at once: no certificate / bad directive
    return "Bad directive" not in out.stdout + out.stderr


def start(dirname: Path, args: list[str], config: str | None = None) -> subprocess.Popen:
    """A redis-server with ``args`` (and a config file, for a sentinel) in its own folder under ``dirname``."""
    dirname.mkdir(parents=True, exist_ok=True)
    cmd = [BINARY]
    if config is not None:
        (dirname / "redis.conf").write_text(config)
        cmd.append(str(dirname / "redis.conf"))
    cmd += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(dirname),
            "--logfile", str(dirname / "log.txt"), *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)


def wait_until(what: str, check, timeout: float = 15.0, step: float = 0.05):
    """``check()``'s first truthy value (errors count as not yet); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (redis.RedisError, OSError) as e:
            last = e
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:g} s (last error: {last})")


def stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ----------------------------------------------------------------------------- TLS
@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def make_certs(dirname: Path) -> Certs:
    """A private CA and a server certificate for 127.0.0.1 and localhost it signed (openssl CLI, 1 day)."""
    d = Path(dirname)
    d.mkdir(parents=True, exist_ok=True)

    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=City Brain test CA",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(d / "server.key"),
        "-out", str(d / "server.csr"))
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "1", "-extfile", str(d / "san.cnf"), "-out", str(d / "server.pem"))
    return Certs(d / "ca.pem", d / "server.pem", d / "server.key")


@contextmanager
def tls_server(dirname: Path, port: int, password: str, certs: Certs):
    """A redis-server that speaks TLS only (no plain port), with ``requirepass``; yields its port."""
    proc = start(Path(dirname) / f"tls-{port}", [
        "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(certs.cert), "--tls-key-file", str(certs.key),
        "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no", "--requirepass", password])
    try:
        client = redis.Redis(port=port, host="127.0.0.1", password=password, ssl=True, ssl_ca_certs=str(certs.ca),
                             socket_connect_timeout=1)
        wait_until(f"TLS redis-server on {port}", lambda: proc.poll() is None and client.ping())
        client.close()
        yield port
    finally:
        stop(proc)


# ----------------------------------------------------------------------------- Sentinel
class SentinelSet:
    """One master and ``replicas`` replicas (ports ``base``, ``base+1``, ...) and three sentinels (``base+5``
    ...), all with ``password``, under the service name ``cbmaster``. The sentinels judge a master down
    after ``down_after_ms`` and promote a replica."""

    SERVICE = "cbmaster"

    def __init__(self, dirname: Path, base: int, password: str, replicas: int = 1, down_after_ms: int = 500,
                 failover_timeout_ms: int = 3000):
        self.dir, self.base, self.password = Path(dirname), base, password
        self.data_ports = [base + i for i in range(1 + replicas)]
        self.sentinel_ports = [base + 5 + i for i in range(3)]
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://:{self.password}@{hosts}/{self.SERVICE}/0"

    def client(self, port: int) -> redis.Redis:
        password = None if port in self.sentinel_ports else self.password
        return redis.Redis(port=port, password=password, socket_connect_timeout=1, socket_timeout=2,
                           decode_responses=True)

    def __enter__(self) -> "SentinelSet":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        auth = ["--requirepass", self.password, "--masterauth", self.password]
        master, *replicas = self.data_ports
        self.procs[master] = start(self.dir / f"data-{master}", ["--port", str(master), *auth])
        for port in replicas:
            self.procs[port] = start(self.dir / f"data-{port}", ["--port", str(port), *auth,
                                                                 "--replicaof", "127.0.0.1", str(master)])
        wait_until("master up", lambda: self.client(master).ping())
        for port in replicas:  # attached before the sentinels start, so their first INFO finds them
            wait_until(f"replica {port} in sync", lambda p=port: self.client(p).info("replication")
                       .get("master_link_status") == "up")
        config = (f"sentinel monitor {self.SERVICE} 127.0.0.1 {master} 2\n"
                  f"sentinel auth-pass {self.SERVICE} {self.password}\n"
                  f"sentinel down-after-milliseconds {self.SERVICE} {self.down_after_ms}\n"
                  f"sentinel failover-timeout {self.SERVICE} {self.failover_timeout_ms}\n"
                  f"sentinel parallel-syncs {self.SERVICE} 1\n")
        for port in self.sentinel_ports:
            self.procs[port] = start(self.dir / f"sentinel-{port}", ["--port", str(port), "--sentinel"],
                                     config=config)

        def ready(port):
            m = self.client(port).sentinel_master(self.SERVICE)
            return m["num-other-sentinels"] == 2 and m["num-slaves"] == len(replicas)

        for port in self.sentinel_ports:
            wait_until(f"sentinel {port} sees the others and the replicas", lambda p=port: ready(p), timeout=20)

    def master_port(self) -> int:
        """The master's port as the sentinels say (a majority of them)."""
        ports = []
        for port in self.sentinel_ports:
            try:
                ports.append(int(self.client(port).sentinel_get_master_addr_by_name(self.SERVICE)[1]))
            except (redis.RedisError, OSError, TypeError):
                pass
        return max(set(ports), key=ports.count) if ports else -1

    def kill_master(self) -> int:
        """SIGKILL the current master (no goodbye to its clients); returns its port."""
        port = self.master_port()
        self.procs[port].kill()
        self.procs[port].wait(5)
        return port

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc)


# ----------------------------------------------------------------------------- a runner batch
def traffic_batch(runner, city, now: float):
    """One batch of the simulated city's traffic feed (every link, none malformed) through ``runner``."""
    from feeds.adapters.nyc_traffic import NycTrafficAdapter
    from feeds.config import FeedSource
    from feeds.simulate.traffic import TrafficSimulator

    payload = TrafficSimulator(city, 1, no_data_rate=0, malformed_rate=0).payload(now)
    return runner.run_once(NycTrafficAdapter(city, FeedSource(timezone=city.timezone)), payload, now=now)
