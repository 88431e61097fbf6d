"""The place name ("Alaunstraße 1") where people decide: the resident's form preview and
tracking page, the crew's queue and ticket, the dispatcher's ticket and map data, the CSV
export and Open311's `address`."""

import csv
import io

import pytest
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from districts.models import Address
from tests.conftest import NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PLACE = "Alaunstraße 1"


@pytest.fixture
def address():
    # About 15 m south-west of the ticket's point.
    return Address.objects.create(
        street="Alaunstraße",
        house_number="1",
        postcode="01099",
        location=Point(NEUSTADT_POINT.x - 0.0001, NEUSTADT_POINT.y - 0.0001, srid=4326),
    )


def test_resident_sees_the_place_on_the_form_preview_and_the_tracking_page(address, ticket, client):
    assert ticket.place_name == PLACE
    preview = client.get(
        f"/api/v1/route/?lat={NEUSTADT_POINT.y}&lon={NEUSTADT_POINT.x}&category=litter"
    ).json()
    assert preview["place"] == PLACE and preview["district"]["name"] == "Neustadt"
    page = client.get(f"/r/{ticket.tracking_token}/", HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 200
    assert f'<dd class="place-name">{PLACE}</dd>' in page.content.decode()


def test_crew_sees_the_place_in_the_queue_and_on_the_ticket(address, ticket, client):
    member = UserFactory(username="crew-x")
    ticket.assignments.get(active=True).crew.members.add(member)
    client.force_login(member)
    queue = client.get("/crew/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert PLACE in queue
    page = client.get(f"/crew/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f"Neustadt · {PLACE}" in page and "keine Adresse bekannt" not in page


def test_dispatcher_sees_the_place_on_the_ticket_map_data_and_export(
    address, ticket, dispatcher, client
):
    client.force_login(dispatcher)
    page = client.get(f"/dispatch/reports/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="de")
    assert f'<strong class="place-name">{PLACE}</strong>' in page.content.decode()
    api = APIClient()
    api.force_authenticate(dispatcher)
    features = api.get("/api/v1/dispatch/tickets/").json()["features"]
    assert [f["properties"]["place"] for f in features if f["id"] == ticket.pk] == [PLACE]
    text = api.get("/api/v1/dispatch/export.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["place"] for r in rows if r["id"] == str(ticket.pk)] == [PLACE]


def test_open311_address_is_the_place_unless_the_category_is_shown_coarsened(
    address, ticket, client
):
    entry = client.get(f"/open311/v2/requests/{ticket.pk}.json").json()[0]
    assert entry["address"] == PLACE
    ticket.category.public_grid_m = 200
    ticket.category.save()
    entry = client.get(f"/open311/v2/requests/{ticket.pk}.json").json()[0]
    assert not entry["address"]
