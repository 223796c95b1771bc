INSERT INTO public.arr SELECT id + 10, nv, ns, f4, ts3, t3, t6, d, tx, ch, c1, i8 FROM public.arr;
