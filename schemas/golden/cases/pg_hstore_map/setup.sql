-- hstore.handling.mode=map: hstore as a Connect map of strings.
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE public.hm (id int PRIMARY KEY, hs hstore);
INSERT INTO public.hm VALUES (1, 'a=>1, b=>NULL, "c d"=>"e,f"'), (2, ''), (3, NULL);
