INSERT INTO public.rounded VALUES
 (110, 12345, 999, 123456789012345678901234567890123456789012345678, '{12345,NULL,-150}'),
 (120, -12351, -994, -5, '{}'),
 (130, 0, 0, 0, NULL);
INSERT INTO public.rounded (id, h) VALUES (140, 50);
UPDATE public.rounded SET h = 7749, t = 15 WHERE id = 10;
UPDATE public.rounded SET id = 50 WHERE id = 20;
DELETE FROM public.rounded WHERE id = 30;
