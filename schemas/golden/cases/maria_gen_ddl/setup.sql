SET NAMES utf8mb4;
CREATE TABLE gen_ddl (id int PRIMARY KEY, a varchar(10), b int, m enum('sad','ok')) DEFAULT CHARSET=utf8mb4;
INSERT INTO gen_ddl VALUES (1, 'x', 1, 'ok'), (2, 'y', 2, 'sad');
