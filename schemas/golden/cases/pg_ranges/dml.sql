INSERT INTO public.ranges SELECT id + 10, r4, r8, rn, rts, rtz, rd, ina, ma, tza, bpa, j, ja, ti, tt FROM public.ranges;
