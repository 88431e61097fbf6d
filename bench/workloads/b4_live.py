"""B4 dispatcher live updates: with 5,000 open tickets and 10 changes/s, what one change costs
on the server-sent-events stream of the dispatcher map (`/dispatch/live/`) vs re-sending the
full layer (`/api/v1/dispatch/tickets/`, what the map downloads when it has to reload), and how
long a change takes from its commit to the open stream.

Setup (restored afterwards, also after a crash: the saved rows live in the table
`bench_b4_saved` until restored): all but 5,000 open reports (a fixed, spread-out choice) are
set to `cleared`; a bench dispatcher logs in. The app runs as `make run` starts it (uvicorn,
2 workers). A dispatcher map is an HTTP client on the stream. The changes are real: 200
priority changes through `crews.dispatch.dispatch_set_priority` (the dispatcher's service:
row lock, update, event, publish after commit) at 10/s from the bench process.

- bytes: bytes on the wire (chunk framing included) per change on the stream vs the body of
  one full-layer response (no compression in either).
- server time: per change, the publish (measured around `reports.live.report_changed`) plus
  the stream's own work (the ticket's feature, built like the layer by PostGIS, and its JSON)
  vs building and rendering the full layer, in the same process, interleaved rounds.
- visible: commit (the publish starts after it) to the event's arrival on the stream.
Fair because both sides serve the same dispatcher the same data (the same SQL for the
features); the full layer is what the map needs without the stream."""

import contextlib
import json
import socket
import statistics
import threading
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from bench import core, servers

APP_PORT = 8140
OPEN_TICKETS = 5_000
RATE = 10  # changes per second
CHANGES = 200  # 20 s at 10/s
WARMUP = 5
USERNAME = "bench-b4-dispatcher"
SAVED = "bench_b4_saved"


# --- setup and restore ---------------------------------------------------------------------------


def _restore() -> None:
    """Put back what an earlier (perhaps crashed) run changed."""
    from reports.models import ReportEvent

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [SAVED])
        if cursor.fetchone()[0] is not None:
            cursor.execute(
                f"UPDATE reports_report r SET status = s.status, priority = s.priority,"  # noqa: S608
                f" version = s.version, updated_at = s.updated_at FROM {SAVED} s WHERE r.id = s.id"
            )
            cursor.execute(f"DROP TABLE {SAVED}")
    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is not None:
        ReportEvent.objects.filter(actor=user).delete()
        user.delete()


def _prepare() -> tuple[list[int], int]:
    """Keep OPEN_TICKETS reports open (close the rest, saved first); the ids to change."""
    from reports.models import Report

    open_statuses = list(Report.OPEN_STATUSES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {SAVED} (id bigint PRIMARY KEY, status text NOT NULL,"
            " priority int NOT NULL, version int NOT NULL, updated_at timestamptz NOT NULL)"
        )
        # A spread-out, reproducible choice: the open reports in the order of an id hash.
        cursor.execute(
            f"INSERT INTO {SAVED} SELECT id, status, priority, version, updated_at"  # noqa: S608
            " FROM reports_report WHERE status = ANY(%s)"
            " ORDER BY md5(id::text) OFFSET %s",
            [open_statuses, OPEN_TICKETS],
        )
        cursor.execute(
            f"UPDATE reports_report r SET status = 'cleared' FROM {SAVED} s"  # noqa: S608
            " WHERE r.id = s.id"
        )
        cursor.execute(
            "SELECT count(*) FROM reports_report WHERE status = ANY(%s)", [open_statuses]
        )
        kept = cursor.fetchone()[0]
        cursor.execute(
            "SELECT id FROM reports_report WHERE status = ANY(%s) ORDER BY md5(id::text) LIMIT %s",
            [open_statuses, CHANGES + WARMUP],
        )
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {SAVED} SELECT id, status, priority, version, updated_at"  # noqa: S608
            " FROM reports_report WHERE id = ANY(%s)",
            [ids],
        )
    return ids, kept


def _dispatcher():
    from crews.models import DISPATCHER_GROUP

    user = get_user_model().objects.create_user(USERNAME, password=None)
    user.groups.add(Group.objects.get_or_create(name=DISPATCHER_GROUP)[0])
    return user


# --- the stream, read as a browser's EventSource would -------------------------------------------


class Stream(threading.Thread):
    """An SSE client on a raw socket: decodes the chunked body, records each event's arrival
    time and its bytes on the wire."""

    def __init__(self, port: int, path: str, cookie: str):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
                "Accept: text/event-stream\r\nAccept-Language: de\r\n"
                "Cache-Control: no-cache\r\n\r\n"
            ).encode()
        )
        self.events: list[tuple[float, int, dict]] = []  # (arrival, wire bytes, data)
        self.connected = threading.Event()
        self.status = ""
        self.stop = False

    def run(self) -> None:
        raw, text, wire = b"", "", 0
        headers_done = False
        while not self.stop:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            raw += chunk
            if not headers_done:
                if b"\r\n\r\n" not in raw:
                    continue
                head, raw = raw.split(b"\r\n\r\n", 1)
                self.status = head.split(b"\r\n", 1)[0].decode()
                headers_done = True
            while True:  # chunked transfer encoding
                line_end = raw.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(raw[:line_end].split(b";")[0], 16)
                end = line_end + 2 + size + 2
                if len(raw) < end:
                    break
                text += raw[line_end + 2 : line_end + 2 + size].decode()
                wire += end
                raw = raw[end:]
            while "\n\n" in text:
                block, text = text.split("\n\n", 1)
                if ": connected" in block:
                    self.connected.set()
                    wire = 0  # the stream's preamble is paid once, not per change
                    continue
                data = "".join(
                    line[len("data: ") :] for line in block.split("\n") if line.startswith("data: ")
                )
                if data:  # keep-alive comments in between count towards the next event
                    self.events.append((now, wire, json.loads(data)))
                    wire = 0

    def close(self) -> None:
        self.stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


# --- the workload --------------------------------------------------------------------------------


def _http_get(port: int, path: str, cookie: str) -> tuple[int, float]:
    """Body bytes and wall seconds of one GET (Content-Length response)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            "Accept: application/json\r\nAccept-Language: de\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
    elapsed = time.perf_counter() - start
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return len(body), elapsed


def run(run: core.Run, config: dict) -> None:
    from crews import dispatch
    from crews.selectors import open_ticket_feature, open_tickets_geojson
    from reports import live
    from reports.models import Report

    _restore()
    try:
        ids, kept = _prepare()
        user = _dispatcher()
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        _measure(run, config, ids, kept, user, cookie, dispatch, live, Report)
        # Server work per change vs the full layer, in this process (interleaved rounds).
        sample = ids[0]
        medians = core.interleaved(
            {
                "feature": lambda: json.dumps(
                    {
                        "type": "report",
                        "id": sample,
                        "kind": "note",
                        "feature": open_ticket_feature(
                            report_id=sample, now=timezone.now(), language="de"
                        ),
                    },
                    separators=(",", ":"),
                ),
                "full": lambda: JSONRenderer().render(
                    open_tickets_geojson(now=timezone.now(), language="de")
                ),
                "publish": lambda: live.report_changed(report_id=0, kind="bench"),
            },
            inner=20,
        )
        client.logout()
    finally:
        _restore()
    ours = medians["feature"] + medians["publish"]
    core.ratio_row(
        run,
        "B4 live updates",
        f"{kept:,} open tickets",
        "server ms per update",
        ours * 1000,
        medians["full"] * 1000,
        goal=20,
        versus="full GeoJSON",
        higher_is_better=False,
        note=f"publish {medians['publish'] * 1000:.2f} ms + the ticket's feature"
        f" {medians['feature'] * 1000:.2f} ms vs building and rendering all open tickets",
    )


def _measure(run, config, ids, kept, user, cookie, dispatch, live, Report) -> None:
    commits: dict[int, float] = {}
    publish_s: list[float] = []
    original = live.report_changed

    def timed_publish(*, report_id: int, kind: str = "", **options) -> None:
        # Called after the commit (directly, or by the outbox handler with strict=True): the
        # change is committed when this starts.
        start = time.perf_counter()
        commits.setdefault(report_id, start)
        original(report_id=report_id, kind=kind, **options)
        publish_s.append(time.perf_counter() - start)

    stream_path = reverse("frontend:dispatch:stream")
    full_path = reverse("api:dispatch:tickets")
    live.report_changed = timed_publish
    try:
        with servers.uvicorn_app(APP_PORT):
            full_bytes, _ = _http_get(APP_PORT, full_path, cookie)
            stream = Stream(APP_PORT, stream_path, cookie)
            stream.start()
            if not stream.connected.wait(15):
                raise RuntimeError(
                    f"the live stream did not connect ({stream.status or 'no reply'})"
                )
            reports = {r.pk: r for r in Report.objects.filter(pk__in=ids)}
            interval = 1 / RATE
            due = time.perf_counter()
            for n, pk in enumerate(ids):
                if n == WARMUP:
                    time.sleep(1)  # the warm-up's events are in; the measured run starts
                    due = time.perf_counter()
                    first_measured = len(stream.events)
                report = reports[pk]
                dispatch.dispatch_set_priority(
                    report=report, priority=(report.priority + 1) % 4, actor=user
                )
                due += interval
                time.sleep(max(0.0, due - time.perf_counter()))
            elapsed_changes = len(ids) - WARMUP
            deadline = time.perf_counter() + 5
            measured_ids = set(ids[WARMUP:])
            while time.perf_counter() < deadline:
                seen = {e[2].get("id") for e in stream.events[first_measured:]}
                if measured_ids <= seen:
                    break
                time.sleep(0.05)
            # The full layer over HTTP while the changes keep coming is what the map would do;
            # measured after them here, a few times.
            full_times = [_http_get(APP_PORT, full_path, cookie)[1] for _ in range(5)]
            stream.close()
    finally:
        live.report_changed = original
    events = [e for e in stream.events[first_measured:] if e[2].get("id") in measured_ids]
    arrived = {}
    for at, _wire, data in events:
        arrived.setdefault(data["id"], at)
    lat = [arrived[pk] - commits[pk] for pk in measured_ids if pk in arrived and pk in commits]
    missing = len(measured_ids) - len(lat)
    with_feature = sum(1 for e in events if e[2].get("feature"))
    per_event = statistics.mean(e[1] for e in events) if events else float("nan")
    size = f"{kept:,} open tickets, {RATE} changes/s"
    core.ratio_row(
        run,
        "B4 live updates",
        size,
        "bytes per update",
        per_event,
        full_bytes,
        goal=20,
        versus="full GeoJSON",
        higher_is_better=False,
        note=f"{len(events)} events for {elapsed_changes} changes, {with_feature} with the"
        " ticket's feature, enough to apply the change without reloading the layer; wire bytes"
        " incl. chunk framing",
    )
    lat_ms = sorted(x * 1000 for x in lat) or [float("inf")]
    core.limit_row(
        run,
        "B4 live updates",
        size,
        "commit to stream, max ms",
        lat_ms[-1] if not missing else float("inf"),
        limit=2000,
        note=f"p50 {core.percentile(lat_ms, 50):.1f} ms, p95 {core.percentile(lat_ms, 95):.1f} ms,"
        f" {missing} lost; publish median {statistics.median(publish_s) * 1000:.2f} ms; full layer"
        f" over HTTP {statistics.median(full_times) * 1000:.0f} ms ({full_bytes // 1024} KB)",
    )
