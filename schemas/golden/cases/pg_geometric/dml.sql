INSERT INTO public.geo VALUES (2, '((0,0),(0,0))', '<(0,0),0>', '[(1,2),(3,4)]',
  '[(0,0),(5,5)]', '((1,1),(2,2),(3,1))', '{0,1,-2}', 'a | !b', '7', 'stream');
UPDATE public.geo SET bx = '((9,9),(8,8))', note = 'upd' WHERE id = 1;
INSERT INTO public.geo (id) VALUES (3);
DELETE FROM public.geo WHERE id = 2;
