TRUNCATE public.trunc_keyed;
INSERT INTO public.trunc_keyed VALUES (3, 'c');
TRUNCATE public.trunc_nokey;
INSERT INTO public.trunc_nokey VALUES (2, 'b');
TRUNCATE public.trunc_keyed, public.trunc_nokey;
