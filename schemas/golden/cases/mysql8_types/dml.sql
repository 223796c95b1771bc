INSERT INTO t VALUES
 (3, 1901, b'0', b'0000000001', '[]', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000',
  '1000-01-01', '-838:59:59.00', -0.001, -3.4e38, -1.7e308, 0, 0, 'red', '', '', x'', NULL);
UPDATE t SET j = JSON_SET(j, '$.n', 7), y = 2155, v = 'ünïcode' WHERE id = 1;
UPDATE t SET e = 'blue', s = 'a,b,c' WHERE id = 2;
DELETE FROM t WHERE id = 3;
