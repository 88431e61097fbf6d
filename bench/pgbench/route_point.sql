-- B5 floor: the district covering one random point in Dresden, as the create path asks it
-- (districts.selectors.district_for_point: DistrictPart, first code on a border).
\set lon random(13600, 13950)
\set lat random(50990, 51150)
SELECT d.id, d.code, d.name FROM districts_district d
WHERE d.id IN (SELECT p.district_id FROM districts_districtpart p
               WHERE ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(:lon / 1000.0, :lat / 1000.0), 4326)))
ORDER BY d.code LIMIT 1;
