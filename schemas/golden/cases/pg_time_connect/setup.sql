-- time.precision.mode=connect: Connect's own Date, Time and Timestamp (milliseconds).
CREATE TABLE public.tc (id int PRIMARY KEY, d date, t time, t3 time(3), ts timestamp, ts0 timestamp(0), tstz timestamptz, ttz timetz, da date[]);
INSERT INTO public.tc VALUES
  (1, '2024-02-29', '13:45:56.123456', '13:45:56.123', '2024-02-29 13:45:56.123456', '2024-02-29 13:45:56', '2024-02-29 13:45:56.123456+02', '13:45:56.5+02', '{2024-02-29,NULL}'),
  (2, '1969-12-31', '00:00:00', '23:59:59.999', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00', '1970-01-01 00:00:00+00', '00:00:00+00', '{}');
