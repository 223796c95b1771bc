INSERT INTO public.c_times SELECT 2, tz, tz0, tz3, ts, ts0, ts3, d, t, t0, ttz, n, s, b, i, iv, u, j FROM public.c_times WHERE id = 1;
DELETE FROM public.c_times WHERE id = 1;
DELETE FROM public.a_one WHERE id = 1;
