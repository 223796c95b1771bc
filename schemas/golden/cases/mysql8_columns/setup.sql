SET NAMES utf8mb4;
CREATE TABLE users (id int PRIMARY KEY, email varchar(40), name varchar(40), age int) DEFAULT CHARSET=utf8mb4;
INSERT INTO users VALUES (1, 'a@x', 'Ann', 30);
