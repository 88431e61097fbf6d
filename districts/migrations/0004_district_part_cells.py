# DistrictPart cut along a grid first (issue 8, B5 re-route): each district boundary is split by
# cells of 1/100 degree, each cell's piece by ST_Subdivide(piece, 64); every part records its cell
# and whether the district covers the whole cell. A bulk re-route then finds a point's parts by
# its cell (a hash join) instead of probing the spatial index once per point. The numbers are
# districts.models.PART_CELLS_PER_DEGREE and PART_MAX_VERTICES; the trigger from 0003 now cuts
# this way, and the parts of the existing districts are cut again here.

from django.db import migrations, models

PIECES = """
CREATE OR REPLACE FUNCTION districts_part_pieces(
    boundary geometry, max_vertices integer, per_degree integer
) RETURNS TABLE (piece geometry, piece_x integer, piece_y integer, piece_whole boolean)
LANGUAGE sql IMMUTABLE AS $$
    WITH cells AS (
        SELECT gx, gy, ST_MakeEnvelope(
                   gx::float8 / per_degree, gy::float8 / per_degree,
                   (gx + 1)::float8 / per_degree, (gy + 1)::float8 / per_degree, 4326) AS cell
        FROM generate_series(floor(ST_XMin(boundary) * per_degree)::integer,
                             floor(ST_XMax(boundary) * per_degree)::integer) AS gx,
             generate_series(floor(ST_YMin(boundary) * per_degree)::integer,
                             floor(ST_YMax(boundary) * per_degree)::integer) AS gy
    ), cut AS (
        SELECT gx, gy, ST_Covers(boundary, cell) AS whole, cell
        FROM cells WHERE ST_Intersects(boundary, cell)
    )
    SELECT dumped.geom, gx, gy, whole
    FROM cut
    CROSS JOIN LATERAL ST_Subdivide(
        CASE WHEN whole THEN cell ELSE ST_Intersection(boundary, cell) END, max_vertices
    ) AS part(geom)
    CROSS JOIN LATERAL ST_Dump(part.geom) AS dumped
    WHERE GeometryType(dumped.geom) = 'POLYGON'
$$;
CREATE OR REPLACE FUNCTION districts_district_parts_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM districts_districtpart WHERE district_id = NEW.id;
    INSERT INTO districts_districtpart (district_id, geom, cell_x, cell_y, whole_cell)
    SELECT NEW.id, piece, piece_x, piece_y, piece_whole
    FROM districts_part_pieces(NEW.boundary, 64, 100);
    RETURN NULL;
END
$$;
DELETE FROM districts_districtpart;
INSERT INTO districts_districtpart (district_id, geom, cell_x, cell_y, whole_cell)
SELECT district.id, piece, piece_x, piece_y, piece_whole
FROM districts_district AS district
CROSS JOIN LATERAL districts_part_pieces(district.boundary, 64, 100);
ANALYZE districts_districtpart;
"""

BACK = """
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
DROP FUNCTION IF EXISTS districts_part_pieces(geometry, integer, integer);
DELETE FROM districts_districtpart;
INSERT INTO districts_districtpart (district_id, geom, cell_x, cell_y, whole_cell)
SELECT district.id, dumped.geom, 0, 0, false
FROM districts_district AS district
CROSS JOIN LATERAL ST_Subdivide(district.boundary, 64) AS part(geom)
CROSS JOIN LATERAL ST_Dump(part.geom) AS dumped
WHERE GeometryType(dumped.geom) = 'POLYGON';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("districts", "0003_district_parts"),
    ]

    operations = [
        migrations.AddField(
            model_name="districtpart",
            name="cell_x",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="districtpart",
            name="cell_y",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="districtpart",
            name="whole_cell",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="districtpart",
            index=models.Index(fields=["cell_x", "cell_y"], name="districtpart_cell_idx"),
        ),
        migrations.RunSQL(PIECES, BACK),
    ]
