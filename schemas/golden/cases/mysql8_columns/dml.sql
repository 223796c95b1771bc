INSERT INTO users VALUES (2, 'b@x', 'Bob', 41);
UPDATE users SET email = 'c@x', age = 31 WHERE id = 1;
DELETE FROM users WHERE id = 2;
