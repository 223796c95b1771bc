-- MySQL 8.0 column types through snapshot and stream (issue 28): YEAR, BIT, JSON, fractional
-- temporal types, unsigned integers, ENUM/SET, utf8mb4 text, binary, spatial with an SRID.
CREATE TABLE t (
  id int PRIMARY KEY,
  y year,
  b1 bit(1),
  b10 bit(10),
  j json,
  dt datetime(6),
  ts timestamp(3) NULL,
  d date,
  tm time(2),
  dec1 decimal(10,3),
  f float,
  dbl double,
  tu tinyint unsigned,
  bu bigint unsigned,
  e enum('red','green','blue'),
  s set('a','b','c'),
  v varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci,
  bin varbinary(8),
  g point SRID 4326
);
INSERT INTO t VALUES
 (1, 2024, b'1', b'1010101010', '{"k": [1, 2.5, "x"], "n": null}', '2024-02-03 04:05:06.123456',
  '2024-02-03 04:05:06.789', '2024-02-29', '12:34:56.78', 1234567.891, 1.5, 2.25, 255,
  18446744073709551615, 'green', 'a,c', 'héllo 😀', x'00ff10', ST_GeomFromText('POINT(1 2)', 4326)),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL);
