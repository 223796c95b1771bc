-- Range types (Debezium writes their text form), arrays of network and zoned-time types,
-- char(n)[], json[], time(p), timetz(p). (Geometry types other than point, money[],
-- point[], varbit[] and xml[] are left out: Debezium drops such columns; bit(n)[] and
-- int2vector it writes wrongly, as null and [].)
CREATE TABLE public.ranges (id int PRIMARY KEY,
  r4 int4range, r8 int8range, rn numrange, rts tsrange, rtz tstzrange, rd daterange,
  ina inet[], ma macaddr[], tza timetz[], bpa char(2)[], j json, ja json[], ti time(2), tt timetz(3));
INSERT INTO public.ranges VALUES
  (1, '[1,10)', '[5,)', '(1.5,2.5]', '[2024-01-01 00:00,2024-02-01 00:00)', '[2024-01-01 00:00+00,2024-02-01 00:00+00)', '[2024-01-01,2024-02-01)',
   '{192.168.0.1,NULL}', '{08:00:2b:01:02:03}', '{12:00:00+02}', '{ab,c}', '{"a": 1}', '{"{}"}', '12:34:56.78', '12:34:56.789+02'),
  (2, 'empty', '(,)', '[-1.5,-1.5]', '(,2024-01-01 00:00]', 'empty', '[2024-01-01,2024-01-02)',
   '{}', '{}', '{}', '{}', '[]', '{}', '00:00:00', '00:00:00+00'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
