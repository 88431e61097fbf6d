import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=3, default_retry_delay=300)
def event_feed_import_task(self, source: str) -> dict | None:
    """Refresh one configured feed; a network hiccup is retried, a broken feed is logged (and
    kept on the feed) and leaves its events as they were."""
    from django.core.exceptions import ValidationError

    from events.services import FeedUnavailable, feed_import_source

    try:
        return feed_import_source(source=source).as_dict()
    except FeedUnavailable as exc:
        raise self.retry(exc=exc) from exc
    except ValidationError as exc:
        logger.error("Event feed %s not imported: %s", source, "; ".join(exc.messages))
        return None


@shared_task
def events_refresh_feeds_task() -> int:
    """Hourly (Celery beat): queue a refresh of every feed in the EVENT_FEEDS setting."""
    from events.services import configured_feeds

    feeds = configured_feeds()
    for source in feeds:
        event_feed_import_task.delay(source)
    return len(feeds)


@shared_task
def events_archive_task() -> int:
    """Hourly (Celery beat): move the events over for two days into the archive, out of the
    search indexes of what is to come. Idempotent."""
    from events.services import events_archive

    return events_archive()
