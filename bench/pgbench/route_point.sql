-- B5 floor: the district covering one random point in Dresden (the create path's lookup).
\set lon random(13600, 13950)
\set lat random(50990, 51150)
SELECT id FROM districts_district
WHERE ST_Covers(boundary, ST_SetSRID(ST_MakePoint(:lon / 1000.0, :lat / 1000.0), 4326))
ORDER BY code LIMIT 1;
