CREATE TABLE oracle.k (id int PRIMARY KEY, v varchar(10)) DEFAULT CHARSET=utf8;
INSERT INTO oracle.k VALUES (1, 'a');
