"""Memory under steady load: no growth over 10 minutes (`--soak SECONDS`, 600 by default).

For the whole soak, wrk drives the app as `make run` starts it (uvicorn on civicmap.asgi,
2 workers) with B9's requests (reports list of 50 by keyset, ticket detail; 16 connections),
while a real Celery worker (`-Q photos --concurrency 2 --prefetch-multiplier 1`, as in B8)
renders the bench photos through the app's photo task, fed so its queue never runs dry. Every
10 s the resident memory (VmRSS) of each web worker and the sum over the Celery pool is read
from /proc. Growth is the last minute's mean over the mean of the minute after the warm-up
(the first minute, or a quarter of a short soak): a leak shows as steady growth, while a
worker that only reached its working set in the warm-up does not."""

import logging
import random
import statistics
import threading
import time
from pathlib import Path

import redis
from django.db import connection

from bench import core, seed, servers
from bench.workloads import b8_photos

logger = logging.getLogger("bench")

APP_PORT = 8150
SAMPLE_SECONDS = 10
GROWTH_LIMIT = 10.0  # percent


def _paths() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM reports_report WHERE moderation = 'published' ORDER BY id")
        ids = [r[0] for r in cursor.fetchall()]
    rng = random.Random(9)
    lists = [
        f"/api/v1/map/reports.geojson?limit=50&before={rng.choice(ids[50:])}" for _ in range(200)
    ]
    details = [f"/api/v1/map/reports/{rng.choice(ids)}.geojson" for _ in range(200)]
    return lists + details


def _web_workers(pid: int) -> list[int]:
    """The uvicorn worker processes (not multiprocessing's helper processes)."""
    out = []
    for child in servers.descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            out.append(child)
    return out


def _feed(ids: list[int], stop: threading.Event) -> int:
    """Keep the photos queue non-empty until `stop`; the number of tasks queued."""
    broker = redis.Redis.from_url(b8_photos.BROKER_URL)
    queued, n = 0, 0
    while not stop.is_set():
        if broker.llen("photos") < 4:
            batch = [ids[(n + i) % len(ids)] for i in range(4)]
            n += 4
            b8_photos._submit(batch)  # noqa: SLF001 - the same submission as B8
            queued += len(batch)
        stop.wait(0.5)
    return queued


def _window_mean(samples: list[tuple[float, float]], start: float, end: float) -> float:
    values = [v for t, v in samples if start <= t <= end]
    return statistics.mean(values) if values else float("nan")


def run(run: core.Run, config: dict) -> None:
    seconds = config.get("soak") or 600
    warmup = min(60.0, seconds / 4)
    window = min(60.0, (seconds - warmup) / 3)
    paths = _paths()
    photos = seed.photos(config["photos"])
    b8_photos._photos_delete()  # noqa: SLF001
    web: dict[int, list[tuple[float, float]]] = {}
    pool: list[tuple[float, float]] = []
    result: dict = {}
    stop = threading.Event()
    try:
        ids = b8_photos._photos_create(photos)  # noqa: SLF001
        redis.Redis.from_url(b8_photos.BROKER_URL).delete("photos")
        with (
            servers.uvicorn_app(APP_PORT) as app,
            servers.CeleryWorker(2, b8_photos.BROKER_URL) as worker,
        ):
            load = threading.Thread(
                target=lambda: result.update(
                    servers.wrk(APP_PORT, paths, seconds=int(seconds), connections=16)
                ),
                daemon=True,
            )
            feeder = threading.Thread(
                target=lambda: result.update(queued=_feed(ids, stop)), daemon=True
            )
            started = time.monotonic()
            load.start()
            feeder.start()
            while time.monotonic() - started < seconds:
                t = time.monotonic() - started
                for pid in _web_workers(app.proc.pid):
                    web.setdefault(pid, []).append((t, servers.vm_rss_kb(pid) / 1024))
                pool.append((t, worker.rss_kb()["pool_now"] / 1024))
                logger.info(
                    "soak %3.0f s: web %s MB, celery pool %.0f MB",
                    t,
                    ", ".join(f"{v[-1][1]:.0f}" for v in web.values()),
                    pool[-1][1],
                )
                time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - started - t)))
            stop.set()
            load.join(30)
            feeder.join(10)
            web_peak = max((servers.vm_hwm_kb(p) for p in web), default=0) / 1024
            pool_peak = worker.rss_kb()["pool_peak"] / 1024
            rendered = Path(worker.log.name).read_text().count("succeeded in")
    finally:
        stop.set()
        b8_photos._photos_delete()  # noqa: SLF001
    end = seconds
    size = f"{seconds:.0f} s steady load, samples every {SAMPLE_SECONDS} s"
    rows = {f"web worker {n + 1}": s for n, s in enumerate(v for v in web.values() if len(v) > 1)}
    rows["Celery pool (2 processes)"] = pool
    for name, samples in rows.items():
        first = _window_mean(samples, warmup, warmup + window)
        last = _window_mean(samples, end - window, end)
        growth = (last - first) / first * 100
        peak = max(v for _, v in samples)
        core.limit_row(
            run,
            "Memory",
            f"{name}, {size}",
            "RSS growth % after warm-up",
            growth,
            limit=GROWTH_LIMIT,
            note=f"start {samples[0][1]:.0f} MB, after warm-up {first:.0f} MB, end {last:.0f} MB,"
            f" peak {peak:.0f} MB (mean of {window:.0f} s windows; warm-up {warmup:.0f} s)",
        )
    core.info_row(
        run,
        "Memory",
        f"soak load, {size}",
        "req/s (16 conns)",
        result.get("rps"),
        note=f"wrk p99 {result.get('p99_ms', float('nan')):.0f} ms, {result.get('errors', '?')}"
        f" errors; {rendered} photo tasks done during the soak ({result.get('queued', '?')}"
        f" queued); peak VmHWM: web worker {web_peak:.0f} MB, Celery pool {pool_peak:.0f} MB",
    )
