CREATE TABLE oracle.p (id int PRIMARY KEY, v int);
CREATE TABLE oracle.q (id int PRIMARY KEY);
INSERT INTO oracle.p VALUES (1, 1);
INSERT INTO oracle.q VALUES (1);
