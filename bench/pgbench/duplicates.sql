-- B6 floor: the duplicate check as reports.selectors.reports_nearby_open compiles it: open
-- reports of one category within 50 m of a random point (degree prefilter on the partial index
-- report_open_category_location_gist, then the metre distance), nearest first.
\set lon random(137000, 137800)
\set lat random(510300, 510700)
\set cat random(1, 6)
SELECT id FROM reports_report
WHERE status IN ('new', 'assigned', 'in_progress')
  AND ST_DWithin(location, ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326), 0.00109)
  AND ST_DistanceSphere(location, ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326)) <= 50
  AND category_id = (:cat)::bigint
ORDER BY ST_DistanceSphere(location, ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326));
