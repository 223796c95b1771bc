-- Every special value of the mapped types, in the snapshot (row 1..) and streamed (row 101..).
CREATE TABLE public.special (
  id int PRIMARY KEY,
  n numeric, n2 numeric(10,2), f4 real, f8 double precision,
  na numeric[], f8a double precision[], ia int[],
  d date, ts timestamp, tstz timestamptz, ts3 timestamp(3), t time, ttz timetz, iv interval,
  i2 smallint, i4 int, i8 bigint, m money,
  s text, j jsonb, js json, ta text[], b bytea
);
INSERT INTO public.special VALUES
 (1, 'NaN', 'NaN', 'NaN', 'NaN', '{NaN,1.5,NULL}', '{NaN,Infinity,-Infinity,NULL}', '{1,NULL,3}',
  'infinity', 'infinity', 'infinity', 'infinity', '24:00:00', '00:00:00+14', '178000000 years',
  32767, 2147483647, 9223372036854775807, '92233720368547758.07',
  '', '{}', '[]', '{}', ''),
 (2, 'Infinity', 'NaN', 'Infinity', 'Infinity', '{Infinity,-Infinity}', '{-0.0,1e308}', '{}',
  '-infinity', '-infinity', '-infinity', '-infinity', '00:00:00', '23:59:59.999999-12', '-178000000 years',
  -32768, -2147483648, -9223372036854775808, '-92233720368547758.08',
  '😀 𝄞 ü', '{"a":[1,2,{"b":null}],"c":"😀"}', '{"k": 1.0000000000000000001}', '{"",NULL,"NULL","a,b"}', '\x00ff'),
 (3, '-Infinity', 'NaN', '-Infinity', '-Infinity', NULL, NULL, NULL,
  '0001-01-01 BC', '4713-01-01 00:00:00 BC', '0001-01-01 00:00:00+00 BC', '1970-01-01 00:00:00', '23:59:59.999999', '12:00:00+00', '1 mon -1 day 00:00:00.000001',
  0, 0, 0, '0',
  NULL, 'null', 'null', NULL, NULL),
 (4, '-0.0', '-0.00', '-0', '-0', '{}', '{}', '{{1,2},{3,4}}',
  '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00', '294276-12-31 23:59:59.999', '12:34:56.789', '12:34:56.789+05:30', '0 seconds',
  1, 1, 1, '0.01',
  'a''b"c\d', '"str"', '123', '{"{}"}', '\x'),
 (5, '123456789012345678901234567890.123456789012345678901234567890', '-99999999.99', '3.4028235e38', '-1.7976931348623157e308', '{0.000000000000000000001}', '{5e-324}', '{-2147483648,2147483647}',
  '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '4713-01-01 00:00:00 BC', '00:00:00.000001', '00:00:00-15:59', '-1 years -2 mons +3 days -04:05:06.789',
  NULL, NULL, NULL, NULL,
  repeat('x', 3000), '{"big": 123456789012345678901234567890, "f": 0.14285714285714285714}', '{}', '{"a b","c\"d"}', '\xdeadbeef');
