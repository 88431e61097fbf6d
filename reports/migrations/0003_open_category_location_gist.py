# The duplicate check (issue 8, B6): open reports of one category near a point. Open reports are
# a small share of all (most are cleared), so a partial GiST index over them alone, keyed by
# category and location (btree_gist), leaves the database a few index entries to look at instead
# of every report near the point. The predicate matches Report.OPEN_STATUSES, the filter of
# `Report.objects.open()`; the planner uses the index when a query repeats that filter.
# Kept in SQL only (not in Meta.indexes): Django's state does not need to know it.

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS report_open_category_location_gist
ON reports_report USING gist (category_id, location)
WHERE status IN ('new', 'assigned', 'in_progress');
ANALYZE reports_report;
"""
DROP = "DROP INDEX IF EXISTS report_open_category_location_gist;"


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_privacy_moderation_redaction"),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.RunSQL(CREATE, DROP),
    ]
