CREATE TABLE oracle.r (id int PRIMARY KEY, a int NOT NULL DEFAULT 5, b varchar(10) NOT NULL DEFAULT 'x', d datetime(3) NOT NULL DEFAULT '2020-01-02 03:04:05.600', t timestamp NULL DEFAULT NULL);
INSERT INTO oracle.r (id) VALUES (1);
CREATE TABLE oracle.pad (id int PRIMARY KEY, p longtext);
