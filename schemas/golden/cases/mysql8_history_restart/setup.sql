CREATE TABLE oracle.h (id int PRIMARY KEY, a int NOT NULL DEFAULT 5, b varchar(10) NOT NULL DEFAULT 'x', d datetime(3) NOT NULL DEFAULT '2020-01-02 03:04:05.600');
INSERT INTO oracle.h (id) VALUES (1);
