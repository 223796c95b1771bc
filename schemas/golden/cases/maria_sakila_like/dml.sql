/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `film` (
  `film_id` smallint unsigned NOT NULL AUTO_INCREMENT,
  `title` varchar(128) NOT NULL,
  `description` text,
  `release_year` year DEFAULT NULL,
  `language_id` tinyint unsigned NOT NULL,
  `rental_duration` tinyint unsigned NOT NULL DEFAULT '3',
  `rental_rate` decimal(4,2) NOT NULL DEFAULT '4.99',
  `length` smallint unsigned DEFAULT NULL,
  `rating` enum('G','PG','PG-13','R','NC-17') DEFAULT 'G',
  `special_features` set('Trailers','Commentaries','Deleted Scenes','Behind the Scenes') DEFAULT NULL,
  `last_update` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`film_id`),
  KEY `idx_title` (`title`),
  KEY `idx_fk_language_id` (`language_id`),
  CONSTRAINT `fk_film_language` FOREIGN KEY (`language_id`) REFERENCES `language` (`language_id`) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB AUTO_INCREMENT=1001 DEFAULT CHARSET=utf8mb4;
CREATE TABLE `film_text` (`film_id` smallint NOT NULL, `title` varchar(255) NOT NULL, `description` text, PRIMARY KEY (`film_id`), FULLTEXT KEY `idx_title_description` (`title`,`description`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TRIGGER `ins_film` AFTER INSERT ON `film` FOR EACH ROW INSERT INTO film_text (film_id, title, description) VALUES (new.film_id, new.title, new.description);
INSERT INTO film (title, description, release_year, language_id, rental_rate, length, rating, special_features, last_update) VALUES ('ACADEMY DINOSAUR', 'A Epic Drama', 2006, 1, 0.99, 86, 'PG', 'Deleted Scenes,Behind the Scenes', '2006-02-15 05:03:42');
CREATE VIEW film_list AS SELECT film_id, title FROM film;
/*!50001 CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `film_list2` AS select `film`.`film_id` AS `FID` from `film` */;
UPDATE film SET rental_rate = 2.99, last_update = '2006-02-15 05:03:43' WHERE film_id = 1001;
DELETE FROM film_text;
