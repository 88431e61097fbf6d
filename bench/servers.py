"""Start and stop the HTTP servers the benchmarks measure; run wrk against them; peak RSS."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "paths.lua"


class Server:
    def __init__(self, name: str, argv: list[str], port: int, env: dict | None = None):
        self.name, self.argv, self.port = name, argv, port
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix=f"bench-{name}-", suffix=".log", delete=False
        )

    START_SECONDS = 60

    def ready(self) -> bool:
        return _port_open(self.port)

    def __enter__(self) -> "Server":
        if self.port and _port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.START_SECONDS
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"{self.name} did not start: see {self.log.name}")
            time.sleep(0.2)
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def peak_rss_mb(self) -> float:
        """The largest peak RSS (VmHWM) among the server's processes (a worker's)."""
        pids = [self.proc.pid, *descendants(self.proc.pid)] if self.proc else []
        return max((vm_hwm_kb(p) for p in pids), default=0) / 1024


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_idle(timeout: float = 30) -> None:
    """Wait until no other query runs on the bench database (left over from a load test)."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'active' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)


def wrk(port: int, paths: list[str], *, seconds: int, connections: int, threads: int = 2) -> dict:
    """Run wrk cycling through `paths`; requests/s, p50/p95/p99 (ms), errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(threads, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "WRK_PATHS": f.name},
        check=True,
    )
    os.unlink(f.name)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    data = json.loads(line)
    data["rps"] = data["requests"] / data["seconds"]
    return data


def uvicorn_app(port: int, workers: int = 2, env: dict | None = None) -> Server:
    """The app server `make run` starts (scripts/run.sh): uvicorn on civicmap.asgi."""
    return Server(
        "app",
        [
            str(VENV_BIN / "uvicorn"),
            "civicmap.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        port,
        env,
    )


class CeleryWorker(Server):
    """`celery -A civicmap worker` on the photos queue (as in docs/scaling.md): ready when its
    log says so; `pool_pids` are its pool processes."""

    def __init__(
        self, concurrency: int, broker_url: str, queue: str = "photos", env: dict | None = None
    ):
        super().__init__(
            f"celery-{queue}-{concurrency}",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "civicmap",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "--pool",
                "prefork",
                "-n",
                f"bench-{queue}-{concurrency}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "info",
            ],
            0,
            {"CELERY_BROKER_URL": broker_url, **(env or {})},
        )

    START_SECONDS = 90

    def ready(self) -> bool:
        return b" ready." in Path(self.log.name).read_bytes()

    def pool_pids(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc else []

    def rss_kb(self) -> dict:
        """Peak (VmHWM) and current (VmRSS) memory: the pool processes' sum, and the parent."""
        pool = self.pool_pids()
        parent = self.proc.pid if self.proc else 0
        return {
            "pool_peak": sum(vm_hwm_kb(p) for p in pool),
            "pool_now": sum(vm_rss_kb(p) for p in pool),
            "parent_peak": vm_hwm_kb(parent),
            "parent_now": vm_rss_kb(parent),
        }


def vm_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
