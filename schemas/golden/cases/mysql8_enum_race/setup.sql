SET NAMES utf8mb4;
CREATE TABLE oracle.e (id int PRIMARY KEY, k enum('café','naïve','a') CHARACTER SET latin1 NOT NULL DEFAULT 'a', s set('да','нет','x') CHARACTER SET cp1251, g enum('Grüße','ß') CHARACTER SET utf8mb4, n int) DEFAULT CHARSET=utf8mb4;
INSERT INTO oracle.e VALUES (1, 'café', 'да,нет', 'Grüße', 1);
CREATE TABLE oracle.pad (id int PRIMARY KEY, p longtext);
