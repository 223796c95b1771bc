CREATE TABLE multi (id int PRIMARY KEY, mp multipoint, ml multilinestring, mg multipolygon,
  gc geometrycollection);
INSERT INTO multi VALUES (1, ST_GeomFromText('MULTIPOINT(1 1,2 2)'),
  ST_GeomFromText('MULTILINESTRING((0 0,1 1),(2 2,3 3))'),
  ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))'),
  ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))'));
