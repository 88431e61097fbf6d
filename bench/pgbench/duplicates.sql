-- B6 floor: the duplicate check as reports.selectors.report_duplicate_ids runs it (prepared:
-- run with -M prepared): open reports of one category within 50 m of a random point (degree
-- prefilter on the partial index report_open_category_location_gist, then the metre distance on
-- the spheroid), nearest first.
\set lon random(137000, 137800)
\set lat random(510300, 510700)
\set cat random(1, 6)
SELECT r.id
FROM reports_report r, (SELECT ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326) AS geom) p
WHERE r.status IN ('new', 'assigned', 'in_progress')
  AND r.category_id = (:cat)::bigint
  AND ST_DWithin(r.location, p.geom, 0.00109)
  AND ST_DWithin(r.location::geography, p.geom::geography, 50)
ORDER BY ST_DistanceSpheroid(r.location, p.geom, 'SPHEROID["WGS 84",6378137,298.257223563]'), r.id;
