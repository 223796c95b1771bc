UPDATE public.docs SET n = 2 WHERE id = 1;
UPDATE public.docs SET id = 10, n = 3 WHERE id = 1;
UPDATE public.docs SET n = 4 WHERE id = 10;
UPDATE public.docs SET body = repeat('c', 5000) WHERE id = 10;
UPDATE public.docs SET id = 20 WHERE id = 2;
DELETE FROM public.docs WHERE id = 10;
INSERT INTO public.docs VALUES (1, repeat('d', 5000), '{"again": 1}', '\x00', '{x}', 5);
UPDATE public.full_docs SET id = 2, n = 2 WHERE id = 1;
UPDATE public.full_docs SET n = 3 WHERE id = 2;
