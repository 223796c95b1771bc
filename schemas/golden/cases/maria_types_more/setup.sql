-- MariaDB types and shapes beyond the reference table: unsigned widths, bit(1)/bit(n),
-- char/varchar/text/blob families, binary/varbinary, decimal precisions, float(p),
-- fractional time/datetime/timestamp precisions, enum/set, a composite primary key and
-- mixed-case identifiers; snapshot rows, then streamed copies, an update and a delete.
SET NAMES utf8mb4;
CREATE TABLE more_types (
  id int PRIMARY KEY,
  ti_u tinyint unsigned, si smallint, si_u smallint unsigned, mi mediumint, mi_u mediumint unsigned,
  i_u int unsigned, bi_u bigint unsigned, b1 bit(1), b5 bit(5), b64 bit(64), bo boolean,
  dc0 decimal(5,0), dc30 decimal(30,10), fl float, fl_p float(30), db double,
  ch char(4), vc varchar(300), tt tinytext, mt mediumtext, lt longtext,
  bn binary(2), vb varbinary(10), tb tinyblob, mb mediumblob,
  dt3 datetime(3), ts3 timestamp(3) NULL, t3 time(3), t0 time, y year,
  e enum('x','y z','ü'), s set('a','b','c'),
  j json
) DEFAULT CHARSET=utf8mb4;
INSERT INTO more_types VALUES
 (1, 255, -32768, 65535, -8388608, 16777215,
  4294967295, 18446744073709551615, b'1', b'10101', b'1000000000000000000000000000000000000000000000000000000000000001', true,
  99999, 12345678901234567890.0123456789, 1.5, 2.25, -0.000001,
  'ab', 'varchar ü', 'tiny', 'medium', 'long',
  x'0001', x'deadbeef', x'00', x'ff',
  '2024-02-29 13:45:56.123', '2024-02-29 13:45:56.123', '-12:34:56.789', '838:59:59', 2024,
  'y z', 'a,c', '{"a": [1, 2.5, "x"], "b": null}'),
 (2, 0, 32767, 0, 8388607, 0,
  0, 0, b'0', b'0', b'0', false,
  -99999, -0.0000000001, -1.5, 0, 1e308,
  '', '', '', '', '',
  x'', x'', x'', x'',
  '1000-01-01 00:00:00.000', '1970-01-01 00:00:01.000', '00:00:00.001', '-838:59:59', 1901,
  'ü', '', '[]'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE `Mixed_Case` (
  `Region` varchar(10) NOT NULL, `Seq` int NOT NULL, `Some Value` varchar(20),
  PRIMARY KEY (`Region`, `Seq`)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO `Mixed_Case` VALUES ('eu', 1, 'first'), ('us', 1, NULL);
