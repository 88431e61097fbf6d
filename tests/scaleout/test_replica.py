"""Map, tile and event-search reads go to the `replica` alias when one is configured; writes stay
on the primary (core.db_router). The replica here is a second connection to the test database
(TEST MIRROR), so the tests see which connection ran each query."""

import copy
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.tiles import tile_for_point
from core.db_router import read_alias
from districts.models import District
from events.models import Event
from events.selectors import event_search
from reports.models import Report
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.events.helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture(scope="module")
def replica_alias(django_db_setup, django_db_blocker):
    """A `replica` alias for this module only, as settings make it from DATABASE_REPLICA_URL."""
    databases = connections.settings  # the DATABASES setting itself
    primary = connections["default"].settings_dict  # names the test database by now
    replica = copy.deepcopy(primary)
    replica.update(OPTIONS={}, CONN_MAX_AGE=0, TEST={**primary["TEST"], "MIRROR": "default"})
    databases["replica"] = replica
    try:
        yield "replica"
    finally:
        with django_db_blocker.unblock():
            connections["replica"].close()
        del connections["replica"]
        del databases["replica"]


@pytest.fixture(autouse=True)
def router(replica_alias, settings, transactional_db):
    settings.DATABASE_ROUTERS = ["core.db_router.PrimaryReplicaRouter"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "tiles": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    caches["tiles"].clear()


class Queries:
    """The SQL each alias ran inside the block."""

    def __enter__(self):
        self.contexts = {
            alias: CaptureQueriesContext(connections[alias]) for alias in ("default", "replica")
        }
        for context in self.contexts.values():
            context.__enter__()
        return self

    def __exit__(self, *exc):
        for context in self.contexts.values():
            context.__exit__(*exc)

    def on(self, alias: str) -> list[str]:
        return [query["sql"] for query in self.contexts[alias].captured_queries]


def _report() -> Report:
    report, _ = report_create(category="litter", location=NEUSTADT_POINT, description="Müll")
    return report


def test_read_alias_is_the_replica_when_configured():
    assert read_alias() == "replica"
    # Really a second connection, not the primary under another name.
    pids = {}
    for alias in ("default", "replica"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_database()")
            pids[alias] = cursor.fetchone()
    assert pids["default"][0] != pids["replica"][0]
    assert pids["default"][1] == pids["replica"][1]


def test_map_geojson_reads_the_replica(client, dresden_committed):
    report = _report()
    with Queries() as queries:
        response = client.get("/api/v1/map/reports.geojson")
        body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert f'"id":{report.pk}'.encode() in body.replace(b" ", b"")
    assert any("reports_report" in sql for sql in queries.on("replica"))
    assert not any("reports_report" in sql for sql in queries.on("default"))

    with Queries() as queries:
        response = client.get("/api/v1/map/reports.geojson", {"limit": 10})
    assert response.status_code == 200 and str(report.pk) in response.content.decode()
    assert any("reports_report" in sql for sql in queries.on("replica"))
    assert not any("reports_report" in sql for sql in queries.on("default"))


def test_tiles_read_the_replica(client, dresden_committed):
    _report()
    z, x, y = tile_for_point(NEUSTADT_POINT.x, NEUSTADT_POINT.y, 16)
    with Queries() as queries:
        response = client.get(f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf")
    assert response.status_code == 200 and response.content
    assert any("ST_AsMVT" in sql for sql in queries.on("replica"))
    assert not any("ST_AsMVT" in sql for sql in queries.on("default"))


def test_event_search_reads_the_replica(client):
    soon = timezone.now() + timedelta(days=2)
    make_event(title="Flohmarkt am Alaunpark", start=soon, location=NEUSTADT_POINT)
    with Queries() as queries:
        response = client.get("/api/v1/events/", {"q": "Flohmarkt"})
    assert response.status_code == 200
    assert "Flohmarkt am Alaunpark" in response.content.decode()
    assert any("events_event" in sql for sql in queries.on("replica"))
    assert not any("events_event" in sql for sql in queries.on("default"))


def test_writes_stay_on_the_primary_even_for_objects_read_from_the_replica(dresden_committed):
    with Queries() as queries:
        report = _report()
    assert any(sql.startswith("INSERT") for sql in queries.on("default"))
    assert queries.on("replica") == []

    make_event(title="Stadtteilfest Neustadt", start=timezone.now() + timedelta(days=1))
    event = event_search(q="Stadtteilfest").get()
    assert event._state.db == "replica"
    with Queries() as queries:
        event.title = "Stadtteilfest Äußere Neustadt"
        event.save(update_fields=["title"])
        # An object read from the replica may be related to one from the primary (without the
        # router Django refuses: "the current database router prevents this relation").
        report.district = District.objects.using("replica").exclude(pk=report.district_id)[0]
        report.save(update_fields=["district"])
    assert any(sql.startswith("UPDATE") for sql in queries.on("default"))
    assert not any(sql.startswith(("UPDATE", "INSERT")) for sql in queries.on("replica"))
    assert Event.objects.using("default").get(pk=event.pk).title == "Stadtteilfest Äußere Neustadt"
    assert Report.objects.get(pk=report.pk).district_id == report.district_id
