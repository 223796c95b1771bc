CREATE TABLE oracle.h (id int PRIMARY KEY);
INSERT INTO oracle.h VALUES (1);
