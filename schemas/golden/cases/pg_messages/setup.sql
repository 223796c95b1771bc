CREATE TABLE public.msg_t (id int PRIMARY KEY, v text);
INSERT INTO public.msg_t VALUES (1, 'a');
