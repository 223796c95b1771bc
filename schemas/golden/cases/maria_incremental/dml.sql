INSERT INTO t VALUES (1, 'v1', 10), (2, 'v2', 20), (3, 'v3', 30), (4, 'v4', 40), (5, 'v5', 50);
INSERT INTO c VALUES ('x', 1, 'one'), ('x', 2, 'two'), ('y', 1, 'three'), ('z', 9, NULL);
UPDATE t SET v = 'changed' WHERE id = 2;
DELETE FROM t WHERE id = 3;
ALTER TABLE t ADD COLUMN flag BOOL NOT NULL DEFAULT TRUE, ADD COLUMN doc JSON;
UPDATE t SET flag = FALSE, doc = '{"k": 1}' WHERE id = 4;
INSERT INTO dbz_signal VALUES ('snap-1', 'execute-snapshot', '{"data-collections": ["oracle.t"], "type": "incremental"}');
INSERT INTO dbz_signal VALUES ('snap-2', 'execute-snapshot', '{"data-collections": ["oracle.c"], "type": "incremental", "additional-conditions": [{"data-collection": "oracle.c", "filter": "a <> ''y''"}]}');
INSERT INTO c VALUES ('w', 5, 'five');
