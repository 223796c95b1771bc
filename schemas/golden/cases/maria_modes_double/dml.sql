INSERT INTO modes SELECT id + 10, n, n30, b, bn, vb FROM modes;
UPDATE modes SET n = 0, b = x'fb' WHERE id = 11;
DELETE FROM modes WHERE id = 12;
