SET NAMES utf8mb4;
SET SESSION sql_mode = '';
-- Negative TIME(1)/TIME(2) values with a fraction are not streamed here: the binlog decoder
-- (mysql_common) mis-decodes them (see README, Limits). The snapshot rows keep them.
INSERT INTO special VALUES
 (101, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '838:59:59', '838:59:59.9', 0,
  'zzz', 'x,q', -128, 255, -9223372036854775808, 18446744073709551615, 3.4e38, -1.7976931348623157e308, 99999999.99,
  '', '', '{}'),
 (102, '2020-00-15', '2020-05-00', '9999-12-31 23:59:59', '1000-01-01 00:00:00.000001', '2038-01-19 03:14:07', '-00:00:00.5', '00:00:00.5', 1901,
  '', '', 127, 0, 9223372036854775807, 0, -0.0, 0.0, -99999999.99,
  '😀 𝄞', 'ab', '[]'),
 (103, '9999-12-31', '1000-01-01', NULL, NULL, '1970-01-01 00:00:01', '-838:59:59', '00:00:00', 2155,
  NULL, 'y,x', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL);
UPDATE special SET s = 'changed' WHERE id IN (3, 101);
DELETE FROM special WHERE id IN (3, 103);
