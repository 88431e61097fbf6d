-- B2 floor: one vector tile of all report points around the centre tile (:cx, :cy) at zoom :z,
-- straight in the database (no HTTP, no Python): what any tile server must pay at least, with the
-- session settings both servers in B2 run tile queries with (core.mvt.TILE_SETTINGS).
SET jit = off;
SET max_parallel_workers_per_gather = 0;
\set dx random(-1, 1)
\set dy random(-1, 1)
WITH bounds AS (SELECT ST_TileEnvelope(:z, :cx + :dx, :cy + :dy) AS merc),
box AS (SELECT merc, ST_Transform(merc, 4326) AS geo FROM bounds),
mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_Transform(r.public_location, 3857), box.merc, 4096, 64, true) AS geom,
           r.id, r.status
    FROM reports_report r, box
    WHERE r.public_location && box.geo
)
SELECT length(ST_AsMVT(mvtgeom.*, 'reports', 4096, 'geom', 'id')) FROM mvtgeom;
