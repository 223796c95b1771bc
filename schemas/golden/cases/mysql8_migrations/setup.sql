CREATE TABLE oracle.users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, email varchar(255) NOT NULL DEFAULT '') ENGINE=InnoDB;
INSERT INTO oracle.users (email) VALUES ('first@example.com');
