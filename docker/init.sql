CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Linus', NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric(10, 2) NOT NULL);
INSERT INTO orders VALUES (1, 1, 12.50);
