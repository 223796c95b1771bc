-- Decimal and binary columns under Debezium's decimal.handling.mode and binary.handling.mode
-- (this case's props); snapshot row 1..2, streamed 11..12.
CREATE TABLE public.modes (
  id int PRIMARY KEY, n numeric(10,3), nv numeric, m money, na numeric(6,2)[], b bytea, ba bytea[]
);
INSERT INTO public.modes VALUES
  (1, 1234.5, 42.000, 12.34, '{1.5,NULL,-2.25}', '\xdeadbeef00ff', '{"\\x01",NULL}'),
  (2, -0.001, 123456789012345678901234567890.000000000000000000001, -0.5, '{}', '\x', '{}');
