-- B6 floor: open reports of one category within 50 m of a random point (index-assisted).
\set lon random(137000, 137800)
\set lat random(510300, 510700)
\set cat random(1, 8)
SELECT id FROM reports_report
WHERE status IN ('new', 'assigned', 'in_progress') AND category_id = :cat
  AND ST_DWithin(location, ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326), 0.0008)
  AND ST_Distance(location::geography,
                  ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326)::geography) <= 50
ORDER BY ST_Distance(location::geography,
                     ST_SetSRID(ST_MakePoint(:lon / 10000.0, :lat / 10000.0), 4326)::geography)
LIMIT 5;
