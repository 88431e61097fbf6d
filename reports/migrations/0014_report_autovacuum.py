"""Vacuum reports_report after 1 % of its rows changed, not PostgreSQL's default 20 %.

Map tiles read the reports from a covering index alone (an index-only scan, migration 0012),
which only skips the table for pages the visibility map marks all-visible. Every status change
clears that mark for its page; at the default scale factor a 2M-report table would wait for
400,000 changes before a vacuum sets the marks again, and meanwhile a tile reads the heap
too: 5,000 scattered changes to the 200k Dresden reports (of 2M) gave the z12 centre tile
40,066 heap fetches and made it 1.5-2x dearer until a vacuum (2026-12-03). A vacuum of the few
pages changed since the last one is cheap: the visibility map lets it skip the rest, and with
dead rows on few pages PostgreSQL skips the index passes.
"""

from django.db import migrations

OPTIONS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_vacuum_insert_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
}
SETTINGS = ", ".join(f"{name} = {value}" for name, value in OPTIONS.items())
NAMES = ", ".join(OPTIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0013_tile_functions_search_path"),
    ]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE reports_report SET ({SETTINGS})",
            reverse_sql=f"ALTER TABLE reports_report RESET ({NAMES})",
        ),
    ]
