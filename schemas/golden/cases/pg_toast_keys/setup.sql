-- Unchanged TOASTed values under REPLICA IDENTITY DEFAULT: updates that skip them, a key
-- change (the create record of the new key), deletes, re-inserts; text, jsonb, bytea and
-- text[] stored out of line; a FULL-identity table beside it.
CREATE TABLE public.docs (id int PRIMARY KEY, body text, meta jsonb, blob bytea, tags text[], n int);
ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE public.docs ALTER COLUMN meta SET STORAGE EXTERNAL;
ALTER TABLE public.docs ALTER COLUMN blob SET STORAGE EXTERNAL;
ALTER TABLE public.docs ALTER COLUMN tags SET STORAGE EXTERNAL;
CREATE TABLE public.full_docs (id int PRIMARY KEY, body text, n int);
ALTER TABLE public.full_docs ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE public.full_docs REPLICA IDENTITY FULL;
INSERT INTO public.docs VALUES
 (1, repeat('a', 5000), (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 400) g),
  decode(repeat('ab', 5000), 'hex'), array_fill('t'::text, ARRAY[2000]), 1),
 (2, repeat('b', 5000), '{"small": true}', NULL, NULL, 1);
INSERT INTO public.full_docs VALUES (1, repeat('f', 5000), 1);
