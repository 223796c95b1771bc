CREATE TABLE oracle.m_a (id int PRIMARY KEY, v varchar(5));
CREATE TABLE oracle.m_b (id int PRIMARY KEY, v varchar(5));
CREATE TABLE oracle.m_c (id int PRIMARY KEY, v varchar(5));
CREATE TABLE oracle.m_d (id int PRIMARY KEY, v varchar(5));
INSERT INTO oracle.m_a VALUES (1, 'a');
INSERT INTO oracle.m_b VALUES (1, 'b');
INSERT INTO oracle.m_c VALUES (1, 'c'), (2, 'cc');
INSERT INTO oracle.m_d VALUES (1, 'd');
