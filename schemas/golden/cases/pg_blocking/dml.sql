INSERT INTO public.t SELECT g, 'v' || g, g * 10 FROM generate_series(1, 5) g;
INSERT INTO public.c VALUES ('x', 1, 'one'), ('x', 2, 'two'), ('y', 1, 'three'), ('z', 9, NULL);
UPDATE public.t SET v = 'changed' WHERE id = 2;
DELETE FROM public.t WHERE id = 3;
INSERT INTO public.dbz_signal VALUES ('snap-1', 'execute-snapshot', '{"data-collections": ["public.t"], "type": "blocking"}');
INSERT INTO public.dbz_signal VALUES ('snap-2', 'execute-snapshot', '{"data-collections": ["public.c"], "type": "blocking"}');
INSERT INTO public.c VALUES ('w', 5, 'five');
