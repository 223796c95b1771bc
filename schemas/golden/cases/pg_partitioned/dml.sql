INSERT INTO public.measure VALUES (4, 'eu', 4.00), (5, 'us', 5.00);
UPDATE public.measure SET v = 9.99 WHERE id = 1;
UPDATE public.measure SET region = 'us' WHERE id = 3;
DELETE FROM public.measure WHERE id = 2;
