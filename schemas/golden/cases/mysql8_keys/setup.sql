CREATE TABLE nokey (a int, b varchar(10));
CREATE TABLE uniq (code varchar(10) NOT NULL, region int NOT NULL, v varchar(10), UNIQUE KEY uk (code, region));
CREATE TABLE uniq2 (x int NULL, y int NOT NULL, v varchar(10), UNIQUE KEY ux (x), UNIQUE KEY uy (y));
CREATE TABLE keyed_cols (id int PRIMARY KEY, sku varchar(10) NOT NULL, v varchar(10));
INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, NULL);
INSERT INTO uniq VALUES ('a', 1, 'one'), ('b', 2, 'two');
INSERT INTO uniq2 VALUES (1, 10, 'p'), (NULL, 20, 'q');
INSERT INTO keyed_cols VALUES (1, 'S-1', 'one'), (2, 'S-2', 'two');
