INSERT INTO public.g (id, a, b, note) VALUES (3, 4, 1.25, 'streamed');
UPDATE public.g SET a = 10 WHERE id = 1;
UPDATE public.g SET note = 'changed' WHERE id = 2;
DELETE FROM public.g WHERE id = 3;
