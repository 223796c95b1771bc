CREATE TABLE oracle.a (id int PRIMARY KEY, v varchar(10));
CREATE TABLE oracle.b (id int PRIMARY KEY, w int);
INSERT INTO oracle.a VALUES (1, 'one');
INSERT INTO oracle.b VALUES (1, 10);
