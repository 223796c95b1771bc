CREATE TABLE oracle.f (id int PRIMARY KEY, flag boolean DEFAULT true, n int(5) unsigned zerofill, x int, y int);
INSERT INTO oracle.f VALUES (1, true, 42, 1, 1);
