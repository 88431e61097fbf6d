"""The tile-grid functions behind the generated columns (0012) keep the search path they were
created with. `pg_dump`/`pg_restore` (make backup / make restore) run with an empty search path,
where `ST_X` and `civicmap_tile_x` are not found, so restoring `reports_report` failed."""

from django.db import migrations

FUNCTIONS = (
    "civicmap_tile_x(geometry)",
    "civicmap_tile_y(geometry)",
    "civicmap_tile_key(geometry)",
)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0012_report_tile_key"),
    ]

    operations = [
        migrations.RunSQL(
            [f"ALTER FUNCTION {f} SET search_path FROM CURRENT" for f in FUNCTIONS],
            [f"ALTER FUNCTION {f} RESET search_path" for f in FUNCTIONS],
        ),
    ]
