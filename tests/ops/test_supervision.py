"""`make run`'s supervisor (deploy/supervisord.conf): a killed process comes back by itself while
the others keep running, and stopping supervisord stops everything."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.conf import settings

from civicmap.celery import app as celery_app
from tests.conftest import TEST_BROKER_URL, database_url_for_subprocess

pytestmark = pytest.mark.fault

# On an idle machine a process is back within a few seconds; the limits leave room for a
# machine busy with other test runs.
COMEBACK_SECONDS = 90
HEALTH_PATH = "/open311/v2/services.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


@dataclass
class Supervised:
    process: subprocess.Popen
    env: dict[str, str]
    port: int
    log: Path
    answers: list[int | str] = field(default_factory=list)

    def ctl(self, *args: str) -> str:
        run = subprocess.run(
            [f"{sys.prefix}/bin/supervisorctl", "-c", "deploy/supervisord.conf", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return run.stdout.strip()

    def pid(self, name: str) -> int:
        out = self.ctl("pid", name)
        return int(out) if out.isdigit() else 0

    def get(self) -> int | str:
        url = f"http://127.0.0.1:{self.port}{HEALTH_PATH}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (OSError, urllib.error.URLError) as exc:
            return type(exc).__name__

    def wait_for(self, what: str, check, seconds: float = COMEBACK_SECONDS) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if self.process.poll() is not None:
                pytest.fail(f"supervisord exited while waiting for {what}:\n{self.tail()}")
            if check():
                return time.monotonic() - started
            time.sleep(0.2)
        pytest.fail(f"{what} not within {seconds} s:\n{self.ctl('status')}\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-60:])


def _worker_answers() -> bool:
    return bool(celery_app.control.ping(timeout=0.5))


@pytest.fixture
def supervised(django_db_setup) -> Iterator[Supervised]:
    # A short folder: the supervisor's unix socket path must stay under 108 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="cm-sup-"))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "MEDIA_ROOT": str(run_dir / "media"),
        "CIVICMAP_RUN_DIR": str(run_dir),
        "CIVICMAP_RUN_UID": str(os.getuid()),
        "VENV": sys.prefix,
        "REPO_ROOT": str(settings.BASE_DIR),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "WEB_WORKERS": "2",  # as make run: the master's worker processes must not keep the port
        "CELERY_CONCURRENCY": "1",
        "CELERY_QUEUES": "celery,photos,notifications,imports",
        "STOP_TIMEOUT": "10",
    }
    redis.Redis.from_url(TEST_BROKER_URL).flushdb()
    log = run_dir / "supervisord.out"
    with log.open("w") as out:
        process = subprocess.Popen(
            [f"{sys.prefix}/bin/supervisord", "-c", "deploy/supervisord.conf"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    handle = Supervised(process=process, env=env, port=port, log=log)
    try:
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.Redis.from_url(TEST_BROKER_URL).flushdb()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_killed_worker_and_web_come_back_by_themselves_and_ctrl_c_stops_all(supervised):
    s = supervised
    first = s.wait_for("the web answering", lambda: s.get() == 200)
    s.wait_for("the worker answering a ping", _worker_answers)
    pids = {name: s.pid(name) for name in ("web", "worker", "beat")}
    assert all(pids.values()), s.ctl("status")

    # Web keeps answering while the worker is killed and comes back.
    stop = threading.Event()

    def poll_web() -> None:
        while not stop.is_set():
            s.answers.append(s.get())
            time.sleep(0.2)

    poller = threading.Thread(target=poll_web, daemon=True)
    poller.start()
    os.kill(pids["worker"], signal.SIGKILL)
    worker_back = s.wait_for(
        "a new worker answering",
        lambda: s.pid("worker") not in (0, pids["worker"]) and _worker_answers(),
    )
    stop.set()
    poller.join(timeout=15)
    assert s.answers and set(s.answers) == {200}, s.answers
    assert s.pid("web") == pids["web"] and s.pid("beat") == pids["beat"]

    # The web process (uvicorn master with 2 worker processes) killed: a new one takes the port.
    old_web_workers = _children(pids["web"])
    assert old_web_workers
    os.kill(pids["web"], signal.SIGKILL)
    web_back = s.wait_for(
        "a new web process answering",
        lambda: s.pid("web") not in (0, pids["web"]) and s.get() == 200,
    )
    # Its worker processes ended with it instead of holding on to the port.
    s.wait_for("the old web workers gone", lambda: not any(map(_alive, old_web_workers)), 15)
    assert s.pid("beat") == pids["beat"]
    assert _worker_answers()

    # Ctrl-C: supervisord stops web, worker and beat and exits.
    running = {s.pid(name) for name in ("web", "worker", "beat")}
    everything = running | {c for pid in running for c in _children(pid)}
    s.process.send_signal(signal.SIGINT)
    assert s.process.wait(timeout=60) == 0
    assert not any(map(_alive, everything))
    assert s.get() != 200
    print(  # noqa: T201 - the drill's figures, shown with pytest -s
        f"\nfirst start {first:.1f} s, worker back after {worker_back:.1f} s "
        f"({len(s.answers)} web answers meanwhile, all 200), web back after {web_back:.1f} s"
    )
