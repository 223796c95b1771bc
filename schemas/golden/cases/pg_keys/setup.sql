-- Table shapes without a primary key (recorded with the Debezium oracle, see ../README.md).
CREATE TABLE public.nokey_full (a int, b text);
ALTER TABLE public.nokey_full REPLICA IDENTITY FULL;
CREATE TABLE public.nokey_default (a int, b text);
CREATE TABLE public.uniq_ident (code text NOT NULL, region int NOT NULL, v text);
CREATE UNIQUE INDEX uniq_ident_code ON public.uniq_ident (code, region);
ALTER TABLE public.uniq_ident REPLICA IDENTITY USING INDEX uniq_ident_code;
CREATE TABLE public.keyed_cols (id int PRIMARY KEY, sku text NOT NULL, v text);
ALTER TABLE public.keyed_cols REPLICA IDENTITY FULL;
INSERT INTO public.nokey_full VALUES (1, 'x'), (1, 'x'), (2, NULL);
INSERT INTO public.nokey_default VALUES (1, 'x'), (1, 'x');
INSERT INTO public.uniq_ident VALUES ('a', 1, 'one'), ('b', 2, 'two');
INSERT INTO public.keyed_cols VALUES (1, 'S-1', 'one'), (2, 'S-2', 'two');
