CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
CREATE TABLE t (id int PRIMARY KEY, v varchar(20), n int NOT NULL DEFAULT 0);
CREATE TABLE c (a varchar(10), b int, note varchar(20), PRIMARY KEY (a, b));
