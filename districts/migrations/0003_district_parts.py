# DistrictPart: each district boundary cut into pieces of at most 64 vertices (issue 8, B5).
# The parts are derived data kept by the database itself: a trigger replaces a district's parts
# whenever its boundary is inserted or changed (import, admin, plain ORM writes alike), and the
# rows that exist now are filled here. 64 is districts.models.PART_MAX_VERTICES.

import django.contrib.gis.db.models.fields
import django.db.models.deletion
from django.db import migrations, models

REFRESH = """
CREATE OR REPLACE FUNCTION districts_district_parts_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM districts_districtpart WHERE district_id = NEW.id;
    INSERT INTO districts_districtpart (district_id, geom)
    SELECT NEW.id, dumped.geom
    FROM ST_Subdivide(NEW.boundary, 64) AS part(geom)
    CROSS JOIN LATERAL ST_Dump(part.geom) AS dumped
    WHERE GeometryType(dumped.geom) = 'POLYGON';
    RETURN NULL;
END
$$;
CREATE TRIGGER districts_district_parts_insert
    AFTER INSERT ON districts_district
    FOR EACH ROW EXECUTE FUNCTION districts_district_parts_refresh();
CREATE TRIGGER districts_district_parts_update
    AFTER UPDATE OF boundary ON districts_district
    FOR EACH ROW WHEN (OLD.boundary IS DISTINCT FROM NEW.boundary)
    EXECUTE FUNCTION districts_district_parts_refresh();
INSERT INTO districts_districtpart (district_id, geom)
SELECT district.id, dumped.geom
FROM districts_district AS district
CROSS JOIN LATERAL ST_Subdivide(district.boundary, 64) AS part(geom)
CROSS JOIN LATERAL ST_Dump(part.geom) AS dumped
WHERE GeometryType(dumped.geom) = 'POLYGON';
ANALYZE districts_districtpart;
"""

DROP = """
DROP TRIGGER IF EXISTS districts_district_parts_update ON districts_district;
DROP TRIGGER IF EXISTS districts_district_parts_insert ON districts_district;
DROP FUNCTION IF EXISTS districts_district_parts_refresh();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("districts", "0002_event_venue_feed"),
    ]

    operations = [
        migrations.CreateModel(
            name="DistrictPart",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("geom", django.contrib.gis.db.models.fields.PolygonField(srid=4326)),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="parts",
                        to="districts.district",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(REFRESH, DROP),
    ]
