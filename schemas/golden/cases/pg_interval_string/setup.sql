-- interval.handling.mode=string: ISO-8601 durations with every part. (interval[] is left
-- out: Debezium drops such columns; sluice writes them.)
CREATE TABLE public.iv (id int PRIMARY KEY, iv interval);
INSERT INTO public.iv VALUES
  (1, '1 year 2 mons 3 days 04:05:06.789'),
  (2, '-1 days +00:00:00.000001'),
  (3, '0 seconds'),
  (4, '-1 years -2 mons +3 days -04:05:06.789'),
  (5, '178000000 years'),
  (6, '2 weeks -00:00:00.5');
