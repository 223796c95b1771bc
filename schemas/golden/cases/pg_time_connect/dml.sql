INSERT INTO public.tc SELECT id + 10, d, t, t3, ts, ts0, tstz, ttz, da FROM public.tc;
