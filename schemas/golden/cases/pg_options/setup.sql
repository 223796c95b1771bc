-- Debezium options in one case (see props): no tombstones, updates skipped.
CREATE TABLE public.opts (id int PRIMARY KEY, iv interval, big text, n int);
ALTER TABLE public.opts ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO public.opts VALUES
  (1, '1 year 2 mons 3 days 04:05:06.789', repeat('x', 5000), 1),
  (2, '-1 days +00:00:00.000001', 'small', 2),
  (3, '0 seconds', NULL, 3);
