INSERT INTO public.modes SELECT id + 10, n, nv, m, na, b, ba FROM public.modes;
UPDATE public.modes SET n = 0, nv = 7, b = '\xfb' WHERE id = 11;
DELETE FROM public.modes WHERE id = 12;
