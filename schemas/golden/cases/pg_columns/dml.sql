INSERT INTO public.users VALUES (2, 'b@x', 'Bob', '999-99', 41);
UPDATE public.users SET email = 'c@x', age = 31 WHERE id = 1;
INSERT INTO public.orders VALUES (2, 2, '5500', 1.25);
DELETE FROM public.users WHERE id = 2;
