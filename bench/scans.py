"""Benchmark of gate scanning through the real HTTP stack: single scans and batch sync.

Builds a throw-away var dir and database (SQLite in the var dir; with DATABASE_URL set, a fresh
database on that PostgreSQL server, dropped at the end), runs ``migrate`` and ``load_demo``, starts
a real ``manage.py runserver --noreload --insecure`` on a free loopback port and logs in as
``gate_staff`` like a browser (form login, CSRF header). Then, with fixed request counts:

- single scans: POST /api/gate/<id>/scans, sequentially from one keep-alive client, then from
  several client threads at once: scans/s and p50/p99 latency;
- batch sync: POST /api/gate/<id>/scans/batch with offline queues of 100: scans/s, p50/p99 per batch.

Beside them, the raw insert rate of the same database measured in the same run, into a copy of
``checkpoints_scan`` (same columns, indexes, unique and foreign keys) with a row the server wrote:

- SQLite: the sqlite3 module, WAL and synchronous=NORMAL like the app; one row + commit per row,
  and executemany of 100 rows + commit;
- PostgreSQL: pgbench over TCP with a custom script, one INSERT per transaction and 100 INSERTs
  per transaction.

Targets: single scans >= 25% of the raw single-row rate; batch sync >= 50% of the raw batched rate.
Finally a few scans are profiled in-process (cProfile, Django test client) to show where time goes.

    .venv/bin/python bench/scans.py                                   # SQLite, ~1-2 minutes
    scripts/with-postgres.sh .venv/bin/python bench/scans.py          # PostgreSQL
    .venv/bin/python bench/scans.py --single 200 --batches 5          # quick
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import http.client
import io
import json
import math
import os
import platform
import pstats
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
USERNAME, PASSWORD = "gate_staff", "lianfang2022"
RAW_TABLE = "bench_raw_scan"
TARGET_SINGLE, TARGET_BATCH = 0.25, 0.50
BUSY_PORTS = {8000}  # the demo


# --- helpers ---------------------------------------------------------------------------------

def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port not in BUSY_PORTS:
            return port


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(count: int, wall_s: float, latencies_ms: list[float], unit: str = "scan") -> dict[str, Any]:
    return {f"{unit}s": count, "wall_s": round(wall_s, 2), "scans_per_s": round(count / wall_s, 1),
            "p50_ms": round(statistics.median(latencies_ms), 2), "p99_ms": round(percentile(latencies_ms, 99), 2),
            "max_ms": round(max(latencies_ms), 2)}


def run(cmd: list[str], env: dict[str, str], what: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t


def git_state() -> str:
    """The commit measured, and whether the working tree had changes (for an exported tree without .git,
    set LIANFANG_BENCH_REVISION)."""
    if os.environ.get("LIANFANG_BENCH_REVISION"):
        return os.environ["LIANFANG_BENCH_REVISION"]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, check=False)
    return (head.stdout.strip() or "unknown") + (" (modified)" if dirty.stdout.strip() else "")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- database set-up --------------------------------------------------------------------------

@dataclass
class Database:
    vendor: str  # "sqlite" or "postgresql"
    url: str = ""  # the throw-away PostgreSQL database
    admin_url: str = ""  # the database named by DATABASE_URL, to create/drop ours from
    name: str = ""

    @classmethod
    def create(cls, var_dir: Path) -> Database:
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            return cls("sqlite")
        import psycopg

        parts = urllib.parse.urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            sys.exit(f"unsupported DATABASE_URL scheme: {parts.scheme}")
        name = f"lianfang_bench_scans_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls("postgresql", parts._replace(path=f"/{name}").geturl(), url, name)

    def drop(self) -> None:
        if self.vendor != "postgresql":
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def app_env(var_dir: Path, db: Database) -> dict[str, str]:
    env = dict(os.environ)
    env["LIANFANG_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "lianfang.settings"
    env["PYTHONUNBUFFERED"] = "1"
    if db.vendor == "postgresql":
        env["DATABASE_URL"] = db.url
    else:
        env.pop("DATABASE_URL", None)
    return env


# --- the server -------------------------------------------------------------------------------

class Server:
    """``manage.py runserver`` as a child process (threaded, no autoreload), logging to a file."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path, kind: str = "gunicorn") -> None:
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        if kind == "gunicorn":
            # What production runs: pre-forked workers, one per core, a thread each for keep-alive.
            cmd = [str(Path(sys.executable).with_name("gunicorn")), "lianfang.wsgi:application", "-b", f"{HOST}:{port}",
                   "-w", "2", "--threads", "2", "--log-level", "warning"]
        else:
            cmd = [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"{HOST}:{port}"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60) -> float:
        t = time.perf_counter()
        while time.perf_counter() - t < timeout_s:
            if self.proc.poll() is not None:
                sys.exit(f"server exited ({self.proc.returncode}):\n{self.log_path.read_text(errors='replace')}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/login/")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - t
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit(f"server did not answer on {HOST}:{self.port} within {timeout_s} s")

    def rss_mb(self) -> dict[str, float | None]:
        """Peak (VmHWM) and current (VmRSS) resident set of the server process."""
        out: dict[str, float | None] = {"peak_rss_mb": None, "rss_mb": None}
        status = Path(f"/proc/{self.proc.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out["peak_rss_mb" if key == "VmHWM" else "rss_mb"] = round(int(value.split()[0]) / 1024, 1)
        elif shutil.which("ps"):
            ps = subprocess.run(["ps", "-o", "rss=", "-p", str(self.proc.pid)], capture_output=True, text=True, check=False)
            if ps.stdout.strip():
                out["rss_mb"] = round(int(ps.stdout.strip()) / 1024, 1)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --- the client -------------------------------------------------------------------------------

class Client:
    """One device: a keep-alive HTTP/1.1 connection with its own session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed the kept-alive connection; a scan is idempotent by its nonce
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
                self.reconnects += 1
                if attempt == 2:
                    raise
        for header in resp.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                self.cookies[key] = morsel.value
        if resp.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            self.reconnects += 1
        return resp.status, data

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/login/")
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not found:
            sys.exit(f"login page: HTTP {status}, no CSRF token")
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": found.group(1).decode()}).encode()
        status, _ = self.request("POST", "/login/", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302 or "sessionid" not in self.cookies:
            sys.exit(f"login as {username} failed: HTTP {status}")

    def post_json(self, path: str, payload: Any) -> tuple[int, Any, float]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookies.get("csrftoken", "")}
        t = time.perf_counter()
        status, data = self.request("POST", path, body, headers)
        ms = (time.perf_counter() - t) * 1000
        return status, json.loads(data) if data[:1] in (b"{", b"[") else data, ms

    def close(self) -> None:
        self.conn.close()


class ScanFactory:
    """Distinct, valid scans: a fresh nonce and ID number each (visitors not in the register)."""

    def __init__(self, run_tag: str, first_id: int = 1_000_000) -> None:
        from lianfang.core.sample_files import resident_id  # after django.setup()

        self._resident_id = resident_id
        self._lock = threading.Lock()
        self._next = first_id
        self._tag = run_tag

    def make(self, offline: bool = False, lane_id: int | None = None) -> dict[str, Any]:
        with self._lock:
            i = self._next
            self._next += 1
        now = dt.datetime.now(dt.UTC)
        when = now - dt.timedelta(minutes=30) if offline else now
        return {"nonce": f"bench-{self._tag}-{i}", "device_time": when.isoformat(), "offline": offline,
                "device_id": f"bench-device-{threading.get_ident() % 100}", "lane_id": lane_id,
                "data": {"subject": "person", "id_number": self._resident_id(i), "temperature": "36.5",
                         "code_colour": "green", "negative_test_hours_ago": 20}}


@dataclass
class Errors:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])


def check_scan(status: int, body: Any, errors: Errors) -> str:
    if status != 200 or not isinstance(body, dict) or not body.get("ok") or not body.get("created"):
        errors.add(f"HTTP {status}: {body!r}")
        return ""
    return str(body.get("outcome", ""))


# --- HTTP phases ------------------------------------------------------------------------------

def bench_single(clients: list[Client], path: str, factory: ScanFactory, total: int, lane_id: int | None,
                 errors: Errors, outcomes: dict[str, int]) -> dict[str, Any]:
    per_client = [total // len(clients) + (1 if k < total % len(clients) else 0) for k in range(len(clients))]
    latencies: list[list[float]] = [[] for _ in clients]
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients) + 1)

    def worker(k: int) -> None:
        barrier.wait()
        for _ in range(per_client[k]):
            status, body, ms = clients[k].post_json(path, factory.make(lane_id=lane_id))
            latencies[k].append(ms)
            outcome = check_scan(status, body, errors)
            with lock:
                outcomes[outcome or "error"] = outcomes.get(outcome or "error", 0) + 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(clients))]
    for th in threads:
        th.start()
    barrier.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    out = summary(total, wall, [ms for lat in latencies for ms in lat])
    out["clients"] = len(clients)
    return out


def bench_batches(client: Client, path: str, factory: ScanFactory, batches: int, size: int, lane_id: int | None,
                  errors: Errors, outcomes: dict[str, int]) -> dict[str, Any]:
    latencies: list[float] = []
    response_bytes = 0
    t = time.perf_counter()
    for _ in range(batches):
        status, body, ms = client.post_json(path, {"scans": [factory.make(offline=True, lane_id=lane_id)
                                                             for _ in range(size)]})
        latencies.append(ms)
        results = body.get("results", []) if isinstance(body, dict) else []
        if status != 200 or len(results) != size:
            errors.add(f"batch HTTP {status}: {str(body)[:200]}")
            continue
        response_bytes += len(json.dumps(body))
        for r in results:
            outcome = check_scan(200, r, errors)
            outcomes[outcome or "error"] = outcomes.get(outcome or "error", 0) + 1
    wall = time.perf_counter() - t
    out = summary(batches * size, wall, latencies)
    out.update({"batches": batches, "batch_size": size, "p50_ms_per_scan": round(out["p50_ms"] / size, 2),
                "response_kb_per_batch": round(response_bytes / max(1, batches) / 1024, 1)})
    return out


# --- raw baselines ----------------------------------------------------------------------------

def template_row(cursor: Any, nonce_prefix: str, placeholder: str) -> tuple[list[str], list[Any]]:
    """Column names (without id) and values of one scan the server just wrote."""
    query = "SELECT * FROM checkpoints_scan WHERE nonce LIKE ? ORDER BY id DESC LIMIT 1".replace("?", placeholder)
    cursor.execute(query, [f"{nonce_prefix}%"])
    row = cursor.fetchone()
    if row is None:
        sys.exit("no scan written by the benchmark to copy")
    names = [d[0] for d in cursor.description]
    pairs = [(n, v) for n, v in zip(names, row, strict=True) if n != "id"]
    return [n for n, _ in pairs], [v for _, v in pairs]


def raw_sqlite(db_path: Path, nonce_prefix: str, single: int, batches: int, size: int) -> dict[str, Any]:
    conn = sqlite3.connect(db_path, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")  # as Django sets it
    ddl = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE tbl_name='checkpoints_scan' AND sql IS NOT NULL")]
    conn.execute(f'DROP TABLE IF EXISTS "{RAW_TABLE}"')
    for sql in sorted(ddl, key=lambda s: not s.startswith("CREATE TABLE")):
        sql = re.sub(r'^(CREATE (?:UNIQUE )?INDEX )"([^"]+)"', rf'\1"{RAW_TABLE}_\2"', sql)
        conn.execute(sql.replace('"checkpoints_scan"', f'"{RAW_TABLE}"'))
    conn.commit()
    names, values = template_row(conn.cursor(), nonce_prefix, "?")
    i_nonce = names.index("nonce")
    # column names come from the table itself
    sql = f'INSERT INTO "{RAW_TABLE}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'  # noqa: S608

    def row(i: int) -> list[Any]:
        out = list(values)
        out[i_nonce] = f"raw-{i}"
        return out

    latencies: list[float] = []
    t = time.perf_counter()
    for i in range(single):
        t1 = time.perf_counter()
        conn.execute(sql, row(i))
        conn.commit()
        latencies.append((time.perf_counter() - t1) * 1000)
    single_out = summary(single, time.perf_counter() - t, latencies, "row")
    latencies = []
    t = time.perf_counter()
    for b in range(batches):
        t1 = time.perf_counter()
        conn.executemany(sql, [row(single + b * size + k) for k in range(size)])
        conn.commit()
        latencies.append((time.perf_counter() - t1) * 1000)
    batch_out = summary(batches * size, time.perf_counter() - t, latencies, "row")
    batch_out.update({"batches": batches, "batch_size": size})
    conn.close()
    for part in (single_out, batch_out):
        part["rows_per_s"] = part.pop("scans_per_s")
    return {"method": "sqlite3 module on a copy of checkpoints_scan (indexes, unique and foreign keys), "
                      "WAL, synchronous=NORMAL, foreign_keys=ON",
            "single": single_out, "batched": batch_out, "columns": len(names) + 1}


def pgbench_bin() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def raw_postgresql(db: Database, nonce_prefix: str, single: int, batches: int, size: int, tmp: Path) -> dict[str, Any]:
    import psycopg
    from psycopg import sql as pgsql
    from psycopg.types.json import Jsonb

    pgbench = pgbench_bin()
    if pgbench is None:
        sys.exit("pgbench not found (apt-get install postgresql-client or postgresql)")
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE checkpoints_scan INCLUDING ALL)")
        fks = conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE conrelid = 'checkpoints_scan'::regclass AND contype = 'f'").fetchall()
        for name, definition in fks:
            conn.execute(f'ALTER TABLE {RAW_TABLE} ADD CONSTRAINT "{f"{RAW_TABLE}_{name}"[:63]}" {definition}')
        conn.execute(f"DROP SEQUENCE IF EXISTS {RAW_TABLE}_nonce; CREATE SEQUENCE {RAW_TABLE}_nonce")
        cur = conn.cursor()
        names, values = template_row(cur, nonce_prefix, "%s")
        literals = []
        for n, v in zip(names, values, strict=True):
            if n == "nonce":
                literals.append(f"'raw-' || nextval('{RAW_TABLE}_nonce')")
            else:
                value = Jsonb(v) if isinstance(v, dict | list) else v
                literals.append(pgsql.Literal(value).as_string(conn))
    insert = f"INSERT INTO {RAW_TABLE} ({', '.join(names)}) VALUES ({', '.join(literals)});"  # noqa: S608
    one, many = tmp / "raw-single.sql", tmp / "raw-batched.sql"
    one.write_text(insert + "\n")
    many.write_text("BEGIN;\n" + (insert + "\n") * size + "COMMIT;\n")
    parts = urllib.parse.urlsplit(db.url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
    base = [pgbench, "-n", "-c", "1", "-h", parts.hostname or HOST, "-p", str(parts.port or 5432),
            "-U", urllib.parse.unquote(parts.username or "postgres"), db.name]

    def bench(script: Path, transactions: int, rows_per: int) -> dict[str, Any]:
        proc = subprocess.run([*base[:-1], "-f", str(script), "-t", str(transactions), base[-1]],
                              capture_output=True, text=True, env=env, check=False)
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
        lat = re.search(r"latency average = ([\d.]+) ms", proc.stdout)
        if proc.returncode != 0 or not tps:
            sys.exit(f"pgbench failed:\n{proc.stdout}\n{proc.stderr}")
        rate = float(tps.group(1)) * rows_per
        return {"rows": transactions * rows_per, "transactions": transactions, "rows_per_s": round(rate, 1),
                "latency_avg_ms_per_transaction": float(lat.group(1)) if lat else None,
                "wall_s": round(transactions * rows_per / rate, 2)}

    single_out = bench(one, single, 1)
    batch_out = bench(many, batches, size)
    batch_out["batch_size"] = size
    version = subprocess.run([pgbench, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {"method": f"{version}: -n -c 1 -t N over TCP, custom scripts inserting into a copy of "
                      "checkpoints_scan (LIKE ... INCLUDING ALL + its foreign keys); one INSERT per transaction, "
                      f"and BEGIN; {size} INSERTs; COMMIT",
            "single": single_out, "batched": batch_out, "columns": len(names) + 1}


# --- in-process profile -----------------------------------------------------------------------

PROFILE_PARTS: dict[str, tuple[str, str]] = {
    # label: (file name ending, function name) as pstats records them
    "request total (test client)": ("django/test/client.py", "post"),
    "ninja: parse/validate input": ("operation.py", "_get_values"),
    "ninja: serialize response": ("operation.py", "_result_to_response"),
    "auth + session": ("security/session.py", "authenticate"),
    "gate access check": ("access.py", "get_gate_for_user"),
    "record_scan": ("scanning.py", "record_scan"),
    "  rules_on (edition lookup + parse)": ("scanning.py", "rules_on"),
    "  register lookup/doc fields": ("core/services.py", "document_fields"),
    "  encrypt raw ID (Fernet)": ("crypto.py", "encrypt"),
    "  Scan.save": ("scanning.py", "_save"),
    "  issue_pass (ZonePass insert)": ("scanning.py", "issue_pass"),
    "  pass_token (ECDSA sign)": ("scanning.py", "pass_token"),
    "QR code SVG of the pass (segno)": ("checkpoints/api.py", "_qr"),
    "all SQL (CursorWrapper._execute)": ("db/backends/utils.py", "_execute"),
    "commits": ("db/backends/base/base.py", "commit"),
}


def profile_inprocess(gate_id: int, lane_id: int | None, count: int, factory: ScanFactory) -> dict[str, Any]:
    """Single scans through Django's test client (no HTTP server): timed plainly, then under cProfile
    to show where the time goes; plus plain timings of the per-scan crypto and the pass's QR code."""
    from django.test import Client as DjangoClient

    from lianfang.accounts.models import User
    from lianfang.checkpoints import api
    from lianfang.core import crypto

    client = DjangoClient()
    client.force_login(User.objects.get(username=USERNAME))
    path = f"/api/gate/{gate_id}/scans"

    def scans(n: int) -> list[str]:
        tokens = []
        for _ in range(n):
            resp = client.post(path, factory.make(lane_id=lane_id), content_type="application/json")
            if resp.status_code != 200:
                sys.exit(f"in-process scan failed: {resp.status_code} {resp.content[:200]!r}")
            tokens.append(str(resp.json().get("token", "")))
        return tokens

    scans(5)  # warm caches
    t = time.perf_counter()
    tokens = scans(count)
    plain_ms = (time.perf_counter() - t) * 1000 / count
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    scans(count)
    prof.disable()
    profiled_ms = (time.perf_counter() - t) * 1000 / count
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    for label, (suffix, func) in PROFILE_PARTS.items():
        # max, not sum: a function calling a namesake (Client.post -> RequestFactory.post) is counted once
        cum = max((v[3] for (file, _, name), v in raw.items() if name == func and file.endswith(suffix)), default=0.0)
        parts[label] = round(cum * 1000 / count, 2)
    sql_calls = sum(v[0] for (file, _, name), v in raw.items()
                    if name == "_execute" and file.endswith("db/backends/utils.py"))
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(10)
    top = [re.sub(r"\S*site-packages/", "", line.strip()) for line in buf.getvalue().splitlines()
           if re.match(r"\s*\d", line)][1:11]

    def plain(fn: Callable[[str], object], values: list[str]) -> float:
        t = time.perf_counter()
        for v in values:
            fn(v)
        return round((time.perf_counter() - t) * 1000 / len(values), 3)

    tokens = [tk for tk in tokens if tk] or ["x"]
    return {
        "scans": count, "ms_per_scan_in_process": round(plain_ms, 2), "ms_per_scan_profiled": round(profiled_ms, 2),
        "note": "Django test client, no HTTP server; cProfile slows Python code, so compare the parts with each other",
        "cumulative_ms_per_scan_profiled": parts, "sql_statements_per_scan": round(sql_calls / count, 1),
        "top_tottime_profiled": top,
        "plain_ms_per_call": {
            "qr_svg_of_pass": plain(api._qr, tokens),
            "fernet_encrypt_id": plain(crypto.encrypt, ["330114194001011234"] * 50),
            "keyed_hash_id": plain(lambda v: crypto.keyed_hash("id", v), ["330114194001011234"] * 200),
        },
    }


# --- main -------------------------------------------------------------------------------------

@contextlib.contextmanager
def throwaway_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lianfang-bench-scans-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def timed_phase(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    log(f"... {name}")
    out = fn()
    log(f"    {name}: {json.dumps(out, ensure_ascii=False)[:240]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=2000, help="demo register size")
    parser.add_argument("--single", type=int, default=1000, help="single scans per phase (1 client, then --threads)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients for the second single phase")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--raw-single", type=int, default=5000, help="rows for the raw single-row baseline")
    parser.add_argument("--raw-batches", type=int, default=200, help="batches for the raw batched baseline")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", type=int, default=100, help="scans to profile in-process (0: skip)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn",
                        help="gunicorn (2 workers × 2 threads, as in production) or Django's dev server")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.port in BUSY_PORTS:
        parser.error(f"port {args.port} is taken by the demo")
    started = time.perf_counter()

    with throwaway_dir() as var_dir:
        db = Database.create(var_dir)
        try:
            report = bench_all(args, var_dir, db)
        finally:
            from django.apps import apps

            if apps.ready:
                from django.db import connections

                connections.close_all()
            db.drop()
    report["total_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"scans-{report['database']}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(report, ensure_ascii=False, indent=2))
    log(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def bench_all(args: argparse.Namespace, var_dir: Path, db: Database) -> dict[str, Any]:
    env = app_env(var_dir, db)
    manage = [sys.executable, "manage.py"]
    log(f"var dir {var_dir}, database {db.vendor}{' ' + db.name if db.name else ''}")
    migrate_s = run([*manage, "migrate", "--verbosity", "0"], env, "migrate")
    demo_s = run([*manage, "load_demo", "--persons", str(args.persons)], env, "load_demo")
    log(f"migrate {migrate_s:.1f} s, load_demo {demo_s:.1f} s")

    os.environ.update({k: env[k] for k in ("LIANFANG_VAR_DIR", "DJANGO_SETTINGS_MODULE")})
    if db.vendor == "postgresql":
        os.environ["DATABASE_URL"] = db.url
    import django

    django.setup()
    from django.db import connection

    from lianfang.accounts.models import User
    from lianfang.checkpoints.models import Lane

    staff = User.objects.get(username=USERNAME)
    gate_id = staff.scope_gate_id
    if gate_id is None:
        sys.exit(f"{USERNAME} has no gate")
    lane = Lane.objects.filter(gate_id=gate_id).order_by("pk").first()
    lane_id = lane.pk if lane else None
    connection.close()

    port = args.port or free_port()
    server = Server(env, port, var_dir / "server.log", args.server)
    errors, outcomes = Errors(), dict[str, int]()
    tag = f"{os.getpid()}"
    factory = ScanFactory(tag)
    try:
        ready_s = server.wait_ready()
        log(f"server pid {server.proc.pid} on {HOST}:{port}, ready in {ready_s:.1f} s")
        clients = [Client(port) for _ in range(max(1, args.threads))]
        for c in clients:
            c.login(USERNAME, PASSWORD)
        path = f"/api/gate/{gate_id}/scans"
        for c in clients:  # warm up: imports, caches, connections
            for _ in range(max(1, args.warmup // len(clients))):
                status, body, _ = c.post_json(path, factory.make(lane_id=lane_id))
                if check_scan(status, body, errors) == "":
                    sys.exit(f"warm-up scan failed: {errors.samples}")
        single_1 = timed_phase("single scans, 1 client", lambda: bench_single(
            clients[:1], path, factory, args.single, lane_id, errors, outcomes))
        single_n = timed_phase(f"single scans, {len(clients)} clients", lambda: bench_single(
            clients, path, factory, args.single, lane_id, errors, outcomes))
        batch = timed_phase(f"batch sync, {args.batches} x {args.batch_size}", lambda: bench_batches(
            clients[0], f"{path}/batch", factory, args.batches, args.batch_size, lane_id, errors, outcomes))
        rss = server.rss_mb()
        reconnects = sum(c.reconnects for c in clients)
        for c in clients:
            c.close()
    finally:
        server.stop()

    nonce_prefix = f"bench-{tag}-"
    if db.vendor == "sqlite":
        raw = timed_phase("raw baseline (sqlite3)", lambda: raw_sqlite(
            var_dir / "lianfang.sqlite3", nonce_prefix, args.raw_single, args.raw_batches, args.batch_size))
    else:
        raw = timed_phase("raw baseline (pgbench)", lambda: raw_postgresql(
            db, nonce_prefix, args.raw_single, args.raw_batches, args.batch_size, var_dir))

    profile: dict[str, Any] | None = None
    if args.profile > 0:
        profile = timed_phase("in-process profile", lambda: profile_inprocess(
            gate_id, lane_id, args.profile, ScanFactory(f"{tag}-profile", 5_000_000)))
    version = ""
    with connection.cursor() as cur:
        cur.execute("SELECT sqlite_version()" if db.vendor == "sqlite" else "SHOW server_version")
        version = str(cur.fetchone()[0])
    connection.close()

    raw_single, raw_batched = raw["single"]["rows_per_s"], raw["batched"]["rows_per_s"]
    ratio_single = single_1["scans_per_s"] / raw_single
    ratio_batch = batch["scans_per_s"] / raw_batched
    return {
        "database": db.vendor, "database_version": version,
        "commands": {"sqlite": ".venv/bin/python bench/scans.py",
                     "postgresql": "scripts/with-postgres.sh .venv/bin/python bench/scans.py"},
        "server": (f"gunicorn lianfang.wsgi -w 2 --threads 2 -b {HOST}:<port>" if args.server == "gunicorn"
                   else f"manage.py runserver --noreload --insecure {HOST}:<port> (threaded WSGI dev server)"),
        "persons": args.persons, "migrate_s": round(migrate_s, 1), "demo_load_s": round(demo_s, 1),
        "payload": "person, 18-digit resident ID not in the register, 36.5 °C, green code, test 20 h ago",
        "single_1_client": single_1, f"single_{len(clients)}_clients": single_n, "batch_sync": batch,
        "outcomes": outcomes, "errors": errors.count, "error_samples": errors.samples,
        "reconnects": reconnects,
        "raw_baseline": raw,
        "ratios": {
            "single_vs_raw_single": round(ratio_single, 4),
            f"single_{len(clients)}_clients_vs_raw_single": round(single_n["scans_per_s"] / raw_single, 4),
            "batch_vs_raw_batched": round(ratio_batch, 4),
            "batch_vs_raw_single": round(batch["scans_per_s"] / raw_single, 4),
        },
        "targets": {
            "single_ge_25pct_of_raw_single": {"target": TARGET_SINGLE, "actual": round(ratio_single, 4),
                                              "met": ratio_single >= TARGET_SINGLE,
                                              "factor_short": None if ratio_single >= TARGET_SINGLE
                                              else round(TARGET_SINGLE / ratio_single, 1)},
            "batch_ge_50pct_of_raw_batched": {"target": TARGET_BATCH, "actual": round(ratio_batch, 4),
                                              "met": ratio_batch >= TARGET_BATCH,
                                              "factor_short": None if ratio_batch >= TARGET_BATCH
                                              else round(TARGET_BATCH / ratio_batch, 1)},
        },
        "server_memory": rss,
        "profile": profile,
        "git": git_state(), "python": sys.version.split()[0], "cpus": os.cpu_count(), "machine": platform.machine(),
        "date": dt.date.today().isoformat(),
    }


if __name__ == "__main__":
    main()
