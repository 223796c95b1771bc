-- numeric with a negative scale (PostgreSQL 15+): rounded to tens/hundreds, in the snapshot
-- (rows 1..) and streamed (rows 101..); arrays and the key too.
CREATE TABLE public.rounded (
  id numeric(4,-1) PRIMARY KEY,
  h numeric(5,-2), t numeric(3,-1) NOT NULL DEFAULT 120, big numeric(38,-10),
  ha numeric(5,-2)[]
);
INSERT INTO public.rounded VALUES
 (10, 12345, 999, 123456789012345678901234567890123456789012345678, '{12345,NULL,-150}'),
 (20, -12351, -994, -5, '{}'),
 (30, 0, 0, 0, NULL),
 (40, NULL, 5, NULL, '{9999949}');
