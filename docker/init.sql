CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Linus', NULL);
