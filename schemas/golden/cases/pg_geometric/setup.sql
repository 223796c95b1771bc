-- Geometric and other types Debezium 3.6.3 does not map: it leaves the columns out of the
-- record and its schema; sluice writes their text form as a string (a deliberate difference,
-- listed in extra_columns.json). `integer` spelled out.
CREATE TABLE public.geo (id integer PRIMARY KEY, bx box, ci circle, ls lseg, pa path,
  po polygon, li line, tq tsquery, x xid, note text);
INSERT INTO public.geo VALUES (1, '((1,2),(3,4))', '<(1,1),5>', '[(0,0),(1,1)]',
  '((0,0),(1,1),(2,0))', '((0,0),(1,1),(2,0))', '{1,-1,0}', 'fat & rat', '42', 'snap');
