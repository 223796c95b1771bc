INSERT INTO oracle.h VALUES (2, 2);
DROP TABLE oracle.d1, oracle.other, oracle.d2;
INSERT INTO oracle.h VALUES (3, 3);
-- sluice: restart (the harness stops sluice here and runs the rest while it is down; Debezium runs it all at once)
CREATE TABLE oracle.t2 (id int PRIMARY KEY, w varchar(10) DEFAULT 'x', n int NOT NULL);
DROP TABLE IF EXISTS oracle.t2;
INSERT INTO oracle.h VALUES (4, 4);
