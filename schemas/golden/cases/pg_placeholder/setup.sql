-- unavailable.value.placeholder: unchanged TOASTed values the server does not send.
CREATE TABLE public.docs (id int PRIMARY KEY, body text, blob bytea, tags text[], n int);
ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE public.docs ALTER COLUMN blob SET STORAGE EXTERNAL;
ALTER TABLE public.docs ALTER COLUMN tags SET STORAGE EXTERNAL;
INSERT INTO public.docs VALUES (1, repeat('x', 9000), decode(repeat('ab', 9000), 'hex'), array_fill('t'::text, ARRAY[3000]), 1);
