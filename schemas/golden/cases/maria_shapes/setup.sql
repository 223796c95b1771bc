-- MariaDB shapes: a key whose order differs from the columns', multi-row statements, a
-- transaction over two tables, a no-op update, a key change, a multi-row update. (DDL while
-- streaming is not here: see the README on schema changes; the payloads match, but a shape
-- read from the binlog after the catalog moved on lacks NOT NULL and defaults.)
SET NAMES utf8mb4;
CREATE TABLE pairs (a int NOT NULL, b varchar(10) NOT NULL, v varchar(20), PRIMARY KEY (b, a)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE stock (sku varchar(10) PRIMARY KEY, on_hand bigint NOT NULL DEFAULT 0, price decimal(8,2)) DEFAULT CHARSET=utf8mb4;
INSERT INTO pairs VALUES (1, 'x', 'one');
INSERT INTO stock VALUES ('A-1', 10, 9.99), ('B 2', 0, NULL);
