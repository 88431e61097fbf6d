"""The dispatcher map's server-sent-events stream carries the changed ticket's map feature, so
the map can apply a change without downloading every open ticket again (bench B4). Real Redis
pub/sub, the real ASGI view."""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from crews import dispatch
from reports.live import report_changed
from reports.models import Report

pytestmark = pytest.mark.django_db


def _events(user, changes) -> list[dict]:
    """Open the stream as `user`, run each change (a sync callable), return one event each."""

    async def read():
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get("/dispatch/live/", headers={"Accept-Language": "de"})
        assert response["Content-Language"] == "de"
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        chunks = aiter(response.streaming_content)
        assert b": connected" in await anext(chunks)
        out = []
        for change in changes:
            await sync_to_async(change)()
            block = ": "
            while block.startswith(":"):  # comments (keep-alive) carry no change
                block = (await anext(chunks)).decode()
            assert block.startswith("data: ") and block.endswith("\n\n"), block
            out.append(json.loads(block[len("data: ") :]))
        await chunks.aclose()
        return out

    return async_to_sync(read)()


def test_a_change_arrives_with_the_tickets_feature_and_a_closed_ticket_with_none(
    dispatcher, ticket, django_capture_on_commit_callbacks
):
    def priority():
        # The dispatcher's service publishes after the commit (the test's transaction: run the
        # on-commit callbacks at the end of the block).
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.dispatch_set_priority(report=ticket, priority=2, actor=dispatcher)

    def closed():
        Report.objects.filter(pk=ticket.pk).update(status=Report.Status.CLEARED)
        report_changed(report_id=ticket.pk, kind="closed")

    changed, gone = _events(dispatcher, [priority, closed])

    assert changed["id"] == ticket.pk
    feature = changed["feature"]
    assert feature["id"] == ticket.pk
    assert feature["geometry"]["type"] == "Point"
    props = feature["properties"]
    assert props["priority"] == 2
    assert props["crew"]  # dispatched: the same properties as the full layer
    assert props["category_name"] == "Vermüllte Stelle"  # in the dispatcher's language
    # No reporter data on the stream either.
    text = json.dumps(changed)
    assert "anwohner@example.org" not in text and "Erika" not in text and "0351" not in text

    assert gone["id"] == ticket.pk
    assert gone["feature"] is None


def test_a_message_without_a_ticket_id_is_passed_on_unchanged(dispatcher):
    def odd():
        import redis
        from django.conf import settings

        from reports.live import channel_name

        redis.Redis.from_url(settings.LIVE_REDIS_URL).publish(channel_name(), '{"type":"ping"}')

    (event,) = _events(dispatcher, [odd])
    assert event == {"type": "ping"}
