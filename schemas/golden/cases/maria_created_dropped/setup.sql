CREATE TABLE oracle.h (id int PRIMARY KEY, v int);
CREATE TABLE oracle.d1 (id int PRIMARY KEY);
CREATE TABLE oracle.d2 (id int PRIMARY KEY, x varchar(5) DEFAULT 'y');
CREATE TABLE oracle.other (id int PRIMARY KEY);
INSERT INTO oracle.h VALUES (1, 1);
INSERT INTO oracle.d2 VALUES (1, 'a');
