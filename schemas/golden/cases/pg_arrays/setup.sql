-- Arrays of the common types: unscaled and scaled numerics, real, timestamps and times with
-- precisions, dates, text with quotes and backslashes, "char", NULL elements.
CREATE TABLE public.arr (id int PRIMARY KEY,
  nv numeric[], ns numeric(5,2)[], f4 real[], ts3 timestamp(3)[], t3 time(3)[], t6 time[], d date[],
  tx text[], ch "char"[], c1 "char", i8 bigint[]);
INSERT INTO public.arr VALUES
  (1, '{1.50,NULL,-42.000}', '{1.5,-2}', '{1.5,NULL,-0.25}', '{"2024-02-29 13:45:56.123",NULL}', '{13:45:56.123}', '{13:45:56.123456}', '{2024-02-29,1970-01-01}',
   '{"a\"b","c\\d","",NULL,"NULL"}', '{a,b}', 'z', '{1,NULL,-9223372036854775808}'),
  (2, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL, '{}');
