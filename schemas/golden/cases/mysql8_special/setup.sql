SET NAMES utf8mb4;
SET SESSION sql_mode = '';
CREATE TABLE special (
  id int PRIMARY KEY,
  d date, dn date NOT NULL, dt datetime, dt6 datetime(6), ts timestamp NULL, t time, t1 time(1), y year,
  e enum('a','b'), st set('x','y'),
  ti tinyint, tu tinyint unsigned, bi bigint, bu bigint unsigned, f float, db double, dc decimal(10,2),
  s varchar(20) CHARACTER SET utf8mb4, bn binary(3), j json
) DEFAULT CHARSET=utf8mb4;
INSERT INTO special VALUES
 (1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '838:59:59', '-838:59:59.9', 0,
  'zzz', 'x,q', -128, 255, -9223372036854775808, 18446744073709551615, 3.4e38, -1.7976931348623157e308, 99999999.99,
  '', '', '{}'),
 (2, '2020-00-15', '2020-05-00', '9999-12-31 23:59:59', '1000-01-01 00:00:00.000001', '2038-01-19 03:14:07', '-00:00:00.5', '-00:00:00.5', 1901,
  '', '', 127, 0, 9223372036854775807, 0, -0.0, 0.0, -99999999.99,
  '😀 𝄞', 'ab', '[]'),
 (3, '9999-12-31', '1000-01-01', NULL, NULL, '1970-01-01 00:00:01', '-838:59:59', '00:00:00', 2155,
  NULL, 'y,x', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL);
