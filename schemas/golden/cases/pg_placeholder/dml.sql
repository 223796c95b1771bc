UPDATE public.docs SET n = 2 WHERE id = 1;
