"""The reports layer's tile key (core.mvt): a report's public point on the zoom-31 slippy-map grid
(`tile_x`, `tile_y`, floored exactly as `reports.tilecache.tile_for_point` does) and their bits
interleaved (`tile_key`), stored as generated columns, with the covering index the tile queries
read alone (published reports only, like the layer)."""

import django.db.models.expressions
from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION civicmap_tile_x(p geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT LEAST(GREATEST(floor((ST_X(p) + 180.0) / 360.0 * 2147483648.0), 0), 2147483647)::integer
$$;

CREATE OR REPLACE FUNCTION civicmap_tile_y(p geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT LEAST(GREATEST(floor(
    (1.0 - asinh(tan(radians(LEAST(GREATEST(ST_Y(p), -85.05112878), 85.05112878)))) / pi())
    / 2.0 * 2147483648.0), 0), 2147483647)::integer
$$;

CREATE OR REPLACE FUNCTION civicmap_tile_key(p geometry) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    x bigint := civicmap_tile_x(p);
    y bigint := civicmap_tile_y(p);
BEGIN
    -- Spread the 31 bits of x and y to the even and odd positions (Morton order).
    x := (x | (x << 16)) & 281470681808895;      -- 0x0000FFFF0000FFFF
    x := (x | (x << 8)) & 71777214294589695;     -- 0x00FF00FF00FF00FF
    x := (x | (x << 4)) & 1085102592571150095;   -- 0x0F0F0F0F0F0F0F0F
    x := (x | (x << 2)) & 3689348814741910323;   -- 0x3333333333333333
    x := (x | (x << 1)) & 6148914691236517205;   -- 0x5555555555555555
    y := (y | (y << 16)) & 281470681808895;
    y := (y | (y << 8)) & 71777214294589695;
    y := (y | (y << 4)) & 1085102592571150095;
    y := (y | (y << 2)) & 3689348814741910323;
    y := (y | (y << 1)) & 6148914691236517205;
    RETURN x | (y << 1);
END
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS civicmap_tile_key(geometry);
DROP FUNCTION IF EXISTS civicmap_tile_y(geometry);
DROP FUNCTION IF EXISTS civicmap_tile_x(geometry);
"""


def _generated(function: str, output_field):
    return models.GeneratedField(
        db_persist=True,
        expression=django.db.models.expressions.Func(
            models.F("public_location"), function=function, output_field=output_field
        ),
        output_field=output_field,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0011_reportcount_triggers"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        migrations.AddField(
            model_name="report",
            name="tile_x",
            field=_generated("civicmap_tile_x", models.IntegerField()),
        ),
        migrations.AddField(
            model_name="report",
            name="tile_y",
            field=_generated("civicmap_tile_y", models.IntegerField()),
        ),
        migrations.AddField(
            model_name="report",
            name="tile_key",
            field=_generated("civicmap_tile_key", models.BigIntegerField()),
        ),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(
                condition=models.Q(("moderation", "published")),
                fields=["tile_key"],
                include=("id", "status", "category", "closed_at", "tile_x", "tile_y"),
                name="report_tile_key_published",
            ),
        ),
        # Statistics for the new columns, or the planner guesses the tile ranges. The table was
        # rewritten: until a VACUUM marks its pages all-visible again the index is read with
        # heap fetches (docs/scaling.md: run `VACUUM ANALYZE reports_report` after migrating).
        migrations.RunSQL("ANALYZE reports_report", migrations.RunSQL.noop),
    ]
