INSERT INTO public.opts VALUES (11, '-178000000 years', repeat('y', 5000), 11), (12, '00:00:01', 's', 12);
UPDATE public.opts SET n = 100 WHERE id = 11;
DELETE FROM public.opts WHERE id = 12;
INSERT INTO public.opts VALUES (13, '2 hours', 'z', 13);
