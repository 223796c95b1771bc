SET NAMES utf8mb4;
CREATE TABLE modes (
  id int PRIMARY KEY, n decimal(10,3), n30 decimal(30,10), b blob, bn binary(4), vb varbinary(8)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO modes VALUES
  (1, 1234.5, 12345678901234567890.0123456789, x'deadbeef00ff', x'01020304', x'ff'),
  (2, -0.001, 0, x'', x'00', x'');
