CREATE TABLE public.tx_a (id int PRIMARY KEY, v text);
CREATE TABLE public.tx_b (id bigint PRIMARY KEY, n numeric(6,2));
CREATE TABLE public.tx_other (id int PRIMARY KEY);
INSERT INTO public.tx_a VALUES (1, 'snap');
