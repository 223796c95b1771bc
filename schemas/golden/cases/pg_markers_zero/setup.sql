-- Snapshot markers for a one-row first table, a two-row table and a one-row last table; the
-- zero-ish values Debezium writes for NOT NULL columns of a key-only delete image (default
-- replica identity) across temporal precisions.
CREATE TABLE public.a_one (id int PRIMARY KEY, v text);
CREATE TABLE public.b_two (id int PRIMARY KEY, v text);
CREATE TABLE public.c_times (
  id int PRIMARY KEY,
  tz timestamptz NOT NULL, tz0 timestamptz(0) NOT NULL, tz3 timestamptz(3) NOT NULL,
  ts timestamp NOT NULL, ts0 timestamp(0) NOT NULL, ts3 timestamp(3) NOT NULL,
  d date NOT NULL, t time NOT NULL, t0 time(0) NOT NULL, ttz timetz NOT NULL,
  n numeric(6,2) NOT NULL, s text NOT NULL, b boolean NOT NULL, i bigint NOT NULL,
  iv interval NOT NULL, u uuid NOT NULL, j jsonb NOT NULL
);
INSERT INTO public.a_one VALUES (1, 'x');
INSERT INTO public.b_two VALUES (1, 'x'), (2, 'y');
INSERT INTO public.c_times VALUES
 (1, '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05+00', '2024-01-02 03:04:05.123+00',
  '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02 03:04:05.123',
  '2024-01-02', '03:04:05.123456', '03:04:05', '03:04:05+02', 1.5, 's', true, 7,
  '1 day', '00000000-0000-0000-0000-000000000001', '{"a":1}');
