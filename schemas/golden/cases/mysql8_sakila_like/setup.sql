CREATE TABLE oracle.language (language_id tinyint unsigned NOT NULL AUTO_INCREMENT, name char(20) NOT NULL, last_update timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, PRIMARY KEY (language_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO oracle.language (name, last_update) VALUES ('English', '2006-02-15 05:02:19');
