INSERT INTO oracle.a VALUES (2, 'a2');
RENAME TABLE oracle.a TO oracle.a2, other.c TO other.c2, oracle.y TO oracle.y2;
INSERT INTO oracle.a2 VALUES (3, 'x');
INSERT INTO other.c2 VALUES (3, 'y');
ALTER TABLE other.c2 ADD COLUMN w int;
INSERT INTO other.c2 VALUES (4, 'z', 4);
DROP TABLE oracle.b, other.d, oracle.x;
