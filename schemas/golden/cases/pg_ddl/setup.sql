-- DDL while streaming: RENAME COLUMN, ALTER COLUMN TYPE, ADD COLUMN with a DEFAULT, DROP
-- COLUMN, each followed by writes. (No DDL that changes nullability: when it follows other
-- writes closely, when the catalog is read decides the shape, for Debezium as for sluice.)
-- `code` is NOT NULL without a default: a delete's before image writes "" for it.
CREATE TABLE public.evolve (id int PRIMARY KEY, code text NOT NULL, qty int, label varchar(10), note text);
INSERT INTO public.evolve VALUES (1, 'c1', 1, 'one', 'n1');
