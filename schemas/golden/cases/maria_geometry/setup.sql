-- MariaDB spatial types (Geometry and Point structs with WKB), tinyint(1), zerofill,
-- latin1 columns, float(p,s), real, numeric, a datetime default, enum/set labels with
-- spaces and quotes.
SET NAMES utf8mb4;
CREATE TABLE probe (id int PRIMARY KEY,
  g geometry, p point, ls linestring, pg polygon,
  tb tinyint(1), zf int(6) zerofill, l1 varchar(10) CHARACTER SET latin1, t1 text CHARACTER SET latin1,
  fl float(7,3), rl real, nm numeric(6,2), dtd datetime DEFAULT '2020-01-01 00:00:00',
  en enum('a b','c''d'), st set('x','y z')
) DEFAULT CHARSET=utf8mb4;
INSERT INTO probe (id, g, p, ls, pg, tb, zf, l1, t1, fl, rl, nm, en, st) VALUES
 (1, ST_GeomFromText('POINT(1 2)'), POINT(1.5, -2.5), ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),
  1, 42, 'café', 'naïve', 1234.567, 1.5, -12.34, 'c''d', 'x,y z');
INSERT INTO probe (id) VALUES (2);
