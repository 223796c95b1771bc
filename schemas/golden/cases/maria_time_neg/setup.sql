-- Negative TIME values with 1 and 2 fractional digits (the binlog packs their fraction as a
-- signed byte), beside 0, 3 and 6 digits; the snapshot and the stream must agree. Beyond −625 h
-- (rows 6 and 7 of dml.sql) the binlog library's error is a shift by exactly 625 h.
CREATE TABLE tneg (id int PRIMARY KEY, t0 time, t1 time(1), t2 time(2), t3 time(3), t6 time(6));
INSERT INTO tneg VALUES (1, '-00:00:01', '-00:00:00.5', '-00:00:00.01', '-00:00:00.001', '-00:00:00.000001'),
  (2, '-838:59:59', '-600:59:58.9', '-624:59:58.99', '-12:34:56.789', '-838:59:58.999999');
