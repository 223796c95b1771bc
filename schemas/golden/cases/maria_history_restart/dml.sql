INSERT INTO oracle.h (id, a) VALUES (2, 6);
ALTER TABLE oracle.h ADD COLUMN c int NOT NULL DEFAULT 9;
INSERT INTO oracle.h (id, c) VALUES (3, 10);
UPDATE oracle.h SET a = 7 WHERE id = 1;
-- sluice: restart (the harness stops sluice here and runs the rest while it is down; Debezium runs it all at once)
INSERT INTO oracle.h (id) VALUES (4);
ALTER TABLE oracle.h MODIFY COLUMN a int NULL DEFAULT 11, DROP COLUMN b;
INSERT INTO oracle.h (id) VALUES (5);
ALTER TABLE oracle.h ALTER c SET DEFAULT 12, ADD COLUMN e varchar(4) NOT NULL DEFAULT 'e' AFTER id;
UPDATE oracle.h SET a = 8 WHERE id = 3;
INSERT INTO oracle.h (id) VALUES (6);
DELETE FROM oracle.h WHERE id = 2;
