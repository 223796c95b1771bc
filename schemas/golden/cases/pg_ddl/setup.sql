-- DDL while streaming: RENAME COLUMN, ALTER COLUMN TYPE, ADD COLUMN NOT NULL DEFAULT,
-- SET/DROP NOT NULL, DROP COLUMN, each followed by writes.
CREATE TABLE public.evolve (id int PRIMARY KEY, qty int, label varchar(10), note text);
INSERT INTO public.evolve VALUES (1, 1, 'one', 'n1');
