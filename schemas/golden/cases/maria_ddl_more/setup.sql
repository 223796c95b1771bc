CREATE TABLE oracle.acc (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'none', e enum('a','b') NOT NULL DEFAULT 'a', qty int, total int AS (qty * 2) VIRTUAL, stored_total int AS (qty * 3) STORED, ts timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), dt datetime(3) DEFAULT CURRENT_TIMESTAMP(3), d0 datetime NOT NULL DEFAULT CURRENT_TIMESTAMP) DEFAULT CHARSET=utf8mb4;
CREATE TABLE oracle.old_name (id int PRIMARY KEY, v varchar(10));
INSERT INTO oracle.acc (name, e, qty, ts, dt, d0) VALUES ('first', 'b', 5, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.125', '2024-01-02 03:04:05');
INSERT INTO oracle.old_name VALUES (1, 'one');
