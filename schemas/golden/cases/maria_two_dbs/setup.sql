CREATE DATABASE other;
CREATE TABLE oracle.a (id int PRIMARY KEY, v varchar(10));
CREATE TABLE oracle.b (id int PRIMARY KEY, v varchar(10));
CREATE TABLE other.c (id int PRIMARY KEY, v varchar(10));
CREATE TABLE other.d (id int PRIMARY KEY, v varchar(10));
CREATE TABLE oracle.x (id int PRIMARY KEY, v varchar(10));
CREATE TABLE oracle.y (id int PRIMARY KEY, v varchar(10));
INSERT INTO oracle.a VALUES (1, 'a');
INSERT INTO other.c VALUES (1, 'c');
