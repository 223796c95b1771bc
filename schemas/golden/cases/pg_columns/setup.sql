-- column.exclude.list: PII columns never written (two tables, a pattern with a class).
CREATE TABLE public.users (id int PRIMARY KEY, email text, name text, ssn text, age int);
CREATE TABLE public.orders (id int PRIMARY KEY, user_id int, card_number text, total numeric(8,2));
INSERT INTO public.users VALUES (1, 'a@x', 'Ann', '123-45', 30);
INSERT INTO public.orders VALUES (1, 1, '4111', 9.50);
