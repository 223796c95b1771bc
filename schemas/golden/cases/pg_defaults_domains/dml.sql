INSERT INTO public.d (amount, lbl, cnt, at, created, made, qty) VALUES
 (5.5, 'b', 7, '2024-02-03 04:05:06.789', '2024-02-03 04:05:06+00', '2024-02-03 04:05:06', 9);
UPDATE public.d SET amount = 99.99, qty = 11 WHERE id = 1;
