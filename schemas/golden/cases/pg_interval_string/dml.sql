INSERT INTO public.iv SELECT id + 10, iv FROM public.iv;
