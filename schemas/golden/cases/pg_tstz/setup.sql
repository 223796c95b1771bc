CREATE TABLE public.tstz (id int PRIMARY KEY, t0 timestamptz(0), t1 timestamptz(1), t3 timestamptz(3), t6 timestamptz(6), tn timestamptz);
INSERT INTO public.tstz VALUES (1, '2020-01-02 03:04:05+00', '2020-01-02 03:04:05.1+00', '2020-01-02 03:04:05.123+00', '2020-01-02 03:04:05.123456+00', '2020-01-02 03:04:05+00');
INSERT INTO public.tstz VALUES (2, '2020-01-02 03:04:05.6+00', '2020-01-02 03:04:05+00', '2020-01-02 03:04:05.1+00', '2020-01-02 03:04:05.1+00', '2020-01-02 03:04:05.5+00');
