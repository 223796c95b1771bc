CREATE TABLE oracle.items (id int PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'none', qty int);
CREATE TABLE oracle.other (id int PRIMARY KEY);
INSERT INTO oracle.items VALUES (1, 'first', 5);
