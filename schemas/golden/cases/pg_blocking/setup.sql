CREATE TABLE public.dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
CREATE TABLE public.t (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
CREATE TABLE public.c (a text, b int, note text, PRIMARY KEY (a, b));
