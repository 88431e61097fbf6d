# The district-parts trigger and its functions, written so that a dump restores (issue 13).
#
# pg_restore runs with an empty search_path. The update trigger of 0003 compared boundaries with
# `OLD.boundary IS DISTINCT FROM NEW.boundary`; PostgreSQL dumps that without naming PostGIS's
# `=` operator, so on restore it finds no unique `geometry = geometry`, pg_restore exits 1 and
# the restored database never rebuilds district parts again. The trigger now compares the EWKB
# bytes (a pg_catalog operator; `public.st_asewkb` is dumped qualified), and both functions name
# every PostGIS function and table by schema and carry their own search_path, so they run the
# same whatever the caller's search_path is. Same parts as before: 64 vertices, 100 cells per
# degree (districts.models.PART_MAX_VERTICES, PART_CELLS_PER_DEGREE).

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION public.districts_part_pieces(
    boundary public.geometry, max_vertices integer, per_degree integer
) RETURNS TABLE (piece public.geometry, piece_x integer, piece_y integer, piece_whole boolean)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, public
AS $$
    WITH cells AS (
        SELECT gx, gy, public.ST_MakeEnvelope(
                   gx::float8 / per_degree, gy::float8 / per_degree,
                   (gx + 1)::float8 / per_degree, (gy + 1)::float8 / per_degree, 4326) AS cell
        FROM pg_catalog.generate_series(
                 pg_catalog.floor(public.ST_XMin(boundary) * per_degree)::integer,
                 pg_catalog.floor(public.ST_XMax(boundary) * per_degree)::integer) AS gx,
             pg_catalog.generate_series(
                 pg_catalog.floor(public.ST_YMin(boundary) * per_degree)::integer,
                 pg_catalog.floor(public.ST_YMax(boundary) * per_degree)::integer) AS gy
    ), cut AS (
        SELECT gx, gy, public.ST_Covers(boundary, cell) AS whole, cell
        FROM cells WHERE public.ST_Intersects(boundary, cell)
    )
    SELECT dumped.geom, gx, gy, whole
    FROM cut
    CROSS JOIN LATERAL public.ST_Subdivide(
        CASE WHEN whole THEN cell ELSE public.ST_Intersection(boundary, cell) END, max_vertices
    ) AS part(geom)
    CROSS JOIN LATERAL public.ST_Dump(part.geom) AS dumped
    WHERE public.GeometryType(dumped.geom) = 'POLYGON'
$$;
CREATE OR REPLACE FUNCTION public.districts_district_parts_refresh() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    DELETE FROM public.districts_districtpart WHERE district_id = NEW.id;
    INSERT INTO public.districts_districtpart (district_id, geom, cell_x, cell_y, whole_cell)
    SELECT NEW.id, piece, piece_x, piece_y, piece_whole
    FROM public.districts_part_pieces(NEW.boundary, 64, 100);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS districts_district_parts_update ON public.districts_district;
CREATE TRIGGER districts_district_parts_update
    AFTER UPDATE OF boundary ON public.districts_district
    FOR EACH ROW
    WHEN (public.ST_AsEWKB(OLD.boundary) IS DISTINCT FROM public.ST_AsEWKB(NEW.boundary))
    EXECUTE FUNCTION public.districts_district_parts_refresh();
"""

# Back to the definitions of 0003 (trigger) and 0004 (functions).
BACKWARD = """
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
ALTER FUNCTION districts_part_pieces(geometry, integer, integer) RESET search_path;
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
ALTER FUNCTION districts_district_parts_refresh() RESET search_path;
DROP TRIGGER IF EXISTS districts_district_parts_update ON districts_district;
CREATE TRIGGER districts_district_parts_update
    AFTER UPDATE OF boundary ON districts_district
    FOR EACH ROW WHEN (OLD.boundary IS DISTINCT FROM NEW.boundary)
    EXECUTE FUNCTION districts_district_parts_refresh();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("districts", "0004_district_part_cells"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
