CREATE TABLE public.trunc_keyed (id int PRIMARY KEY, v text);
CREATE TABLE public.trunc_nokey (a int, v text);
ALTER TABLE public.trunc_nokey REPLICA IDENTITY FULL;
INSERT INTO public.trunc_keyed VALUES (1, 'a'), (2, 'b');
INSERT INTO public.trunc_nokey VALUES (1, 'a');
