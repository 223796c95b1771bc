INSERT INTO oracle.f VALUES (2, false, 7, 2, 2);
ALTER TABLE oracle.f ADD COLUMN active bool NOT NULL DEFAULT false, ADD COLUMN b1 bit(1) DEFAULT b'1', ADD COLUMN z smallint(3) zerofill;
INSERT INTO oracle.f (id, flag, n, active, z) VALUES (3, true, 8, true, 5);
ALTER TABLE oracle.f DROP COLUMN x, DROP COLUMN y;
INSERT INTO oracle.f (id, active) VALUES (4, true);
CREATE TABLE oracle.g (id int PRIMARY KEY, on_off boolean, t tinyint(1) DEFAULT 1, u tinyint unsigned, code char(3) DEFAULT 'abc', price decimal(10,0), dbl double(8,3), flt float(7,4), d date DEFAULT '2020-01-01', tm time(3), txt tinytext, bl longblob, js json) DEFAULT CHARSET=latin1;
INSERT INTO oracle.g VALUES (1, true, 0, 255, 'xyz', 12345, 12.345, 1.2345, '2021-02-03', '10:11:12.123', 'tt', 'bb', '{"a": 1}');
ALTER TABLE oracle.g MODIFY on_off tinyint(1) NOT NULL DEFAULT 0, CHANGE t t2 boolean;
INSERT INTO oracle.g (id, on_off, t2) VALUES (2, 1, false);
