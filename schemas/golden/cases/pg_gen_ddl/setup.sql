CREATE TYPE gen_mood AS ENUM ('sad', 'ok');
CREATE TABLE gen_ddl (id int PRIMARY KEY, a text, b int, m gen_mood);
INSERT INTO gen_ddl VALUES (1, 'x', 1, 'ok'), (2, 'y', 2, 'sad');
