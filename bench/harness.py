"""A real `sanctum serve` on loopback for the end-to-end benchmarks, and the table they fill.

    with Instance("pages", database="sqlite") as inst:
        inst.seed(fn)                      # fn(app) runs in this process against the same database
        with inst.serve(threads=32) as server:
            session = server.sign_in("benchadmin")

Each instance is a throwaway folder (instance files, SQLite database) and, for PostgreSQL,
a database named `sanctum_bench_<name>` dropped and created again. Scaled-out mode adds
SANCTUM_REDIS_URL with a private key prefix and runs `sanctum worker` beside the server.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "benchmark horse battery staple"
PG_BASE = os.environ.get("SANCTUM_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SANCTUM_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered))) - 1))]


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's worker is a child)."""
    total = 0
    for p in [pid] + children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [g for c in found for g in children(c)]


# ---------------------------------------------------------------- results


@dataclass
class Row:
    bench: str
    metric: str
    mode: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # ok | MISSED | "" (no target)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args, **kwargs) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(f"  · {row.metric} [{row.mode}]: {row.value}" + (f" (baseline {row.baseline})" if row.baseline else "")
              + (f" {row.verdict}" if row.verdict else ""), flush=True)

    def note(self, text: str) -> None:
        if text in self.notes:
            return
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def markdown(self) -> str:
        head = ["benchmark", "figure", "mode", "value", "baseline", "ratio", "target", ""]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join([r.bench, r.metric, r.mode, r.value, r.baseline, r.ratio, r.target,
                                            r.verdict]) + " |")
        return "\n".join(lines + ([""] + [f"- {n}" for n in self.notes] if self.notes else []))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ---------------------------------------------------------------- instances


class Instance:
    """A throwaway instance folder and database, optionally scaled out (Redis + RQ worker)."""

    def __init__(self, name: str, *, database: str = "sqlite", redis: bool = False, bcrypt_rounds: int = 4,
                 extra_env: Optional[dict] = None):
        self.name, self.database, self.redis = name, database, redis
        self.folder = Path(tempfile.mkdtemp(prefix=f"sanctum-bench-{name}-"))
        if database == "postgresql":
            self.url = recreate_postgres(f"sanctum_bench_{name}")
        else:
            self.url = f"sqlite:///{self.folder}/sanctum.db"
        self.env = dict(os.environ)
        self.env.update({
            "SANCTUM_INSTANCE_PATH": str(self.folder),
            "SANCTUM_DATABASE_URL": self.url,
            "SANCTUM_SECRET_KEY": SECRET,
            "SANCTUM_LOG_LEVEL": "WARNING",
            "SANCTUM_BCRYPT_ROUNDS": str(bcrypt_rounds),
            # The benchmarks sign in many times from one IP: the per-IP limit would measure itself.
            "SANCTUM_LOGIN_RATE_LIMIT": "100000 per minute",
            "SANCTUM_ACCOUNT_RATE_LIMIT": "100000 per minute",
            "SANCTUM_CHAT_RATE_LIMIT": "100000 per minute",
            "PYTHONPATH": str(ROOT),
        })
        for key in ("SANCTUM_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
            self.env.pop(key, None)
        if redis:
            self.env["SANCTUM_REDIS_URL"] = REDIS_URL
            self.env["SANCTUM_REDIS_PREFIX"] = f"sanctum-bench-{name}-{os.getpid()}"
        self.env.update(extra_env or {})
        self._procs: list[subprocess.Popen] = []
        self.cli("db", "upgrade")

    @property
    def mode(self) -> str:
        return f"{self.database}{' + Redis/RQ' if self.redis else ''}"

    def cli(self, *args: str, env: Optional[dict] = None) -> str:
        done = subprocess.run([str(BIN / "sanctum"), *args], env={**self.env, **(env or {})}, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"sanctum {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def create_admin(self, username: str = "benchadmin") -> None:
        self.cli("create-admin", username, f"{username}@bench.example", env={"SANCTUM_ADMIN_PASSWORD": PASSWORD})

    @contextmanager
    def app(self):
        """The app in this process, on the same folder and database (for seeding and counting)."""
        saved = {k: os.environ.get(k) for k in self.env if k.startswith("SANCTUM_")}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("SANCTUM_")})
        try:
            from sanctum import create_app, events, jobs

            app = create_app()
            try:
                yield app
            finally:
                jobs.get_backend(app).shutdown()
                events.get_bus(app).shutdown()
                from sanctum.extensions import db

                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def seed(self, fn: Callable) -> object:
        with self.app() as app, app.app_context():
            return fn(app)

    @contextmanager
    def serve(self, *, threads: int = 32, hooks: bool = False, workers: int = 0):
        """`sanctum serve` on a free loopback port (with `workers` × `sanctum worker` beside it when scaled out).
        `hooks` serves through bench.server: the same command plus the bench-only broadcast action."""
        port = free_port()
        command = [str(BIN / "python"), "-m", "bench.server"] if hooks else [str(BIN / "sanctum")]
        command += ["serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads), "--no-migrate"]
        log = open(self.folder / f"serve-{port}.log", "w")
        procs = [spawn(command, self.env, log)]
        for n in range(workers):
            procs.append(spawn([str(BIN / "sanctum"), "worker"], self.env, open(self.folder / f"worker{n}.log", "w")))
        server = Server(f"http://127.0.0.1:{port}", procs[0], self)
        try:
            server.wait_ready()
            for proc in procs[1:]:
                wait_for_worker(proc.pid)
            yield server
        finally:
            for proc in procs:
                stop(proc)

    def close(self) -> None:
        if self.database == "postgresql":
            drop_postgres(f"sanctum_bench_{self.name}")
        if self.redis:
            import redis

            r = redis.Redis.from_url(REDIS_URL)
            for key in r.scan_iter(match=self.env["SANCTUM_REDIS_PREFIX"] + ":*", count=500):
                r.delete(key)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Instance":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spawn(command: list[str], env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_worker(pid: int, timeout: float = 30) -> None:
    """Until RQ lists the worker (named sanctum-<host>-<pid>) as registered."""
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(k.decode().endswith(f"-{pid}") for k in r.smembers("rq:workers")):
            return
        time.sleep(0.2)
    raise RuntimeError("the RQ worker did not start")


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, instance: Instance):
        self.url, self.proc, self.instance = url, proc, instance

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.instance.folder}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz")

    def sign_in(self, username: str, password: str = PASSWORD) -> "Session":
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        token = csrf_token(client.get("/login").text)
        response = client.post("/login", data={"identifier": username, "password": password, "csrf_token": token})
        if response.status_code != 302:
            raise RuntimeError(f"sign-in of {username} answered {response.status_code}")
        return Session(client, self)


class Session:
    """A signed-in browser: its cookie, and a CSRF token for htmx-style posts."""

    def __init__(self, client: httpx.Client, server: Server):
        self.client, self.server = client, server
        self._csrf: Optional[str] = None

    @property
    def cookie(self) -> str:
        return f"sanctum_session={self.client.cookies.get('sanctum_session')}"

    def csrf(self, page: str = "/account/") -> str:
        if self._csrf is None:
            self._csrf = csrf_token(self.client.get(page).text)
        return self._csrf


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'"X-CSRFToken"\s*:\s*"([^"]+)"', html) or re.search(r'X-CSRFToken&#34;: &#34;([^&]+)&#34;', html)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


# ---------------------------------------------------------------- PostgreSQL


def _admin_engine():
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(PG_BASE), isolation_level="AUTOCOMMIT")


def recreate_postgres(name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    assert name.startswith("sanctum_bench"), name
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)


def drop_postgres(name: str) -> None:
    from sqlalchemy import text

    assert name.startswith("sanctum_bench"), name
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def postgres_available() -> bool:
    try:
        engine = _admin_engine()
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


def summary(samples_ms: list[float]) -> str:
    return f"p50 {statistics.median(samples_ms):.1f} ms, p99 {percentile(samples_ms, 99):.1f} ms"
