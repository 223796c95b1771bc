INSERT INTO public.hm SELECT id + 10, hs FROM public.hm;
