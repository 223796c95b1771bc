INSERT INTO probe (id, g, p, ls, pg, tb, zf, l1, t1, fl, rl, nm, en, st) SELECT id+10, g, p, ls, pg, tb, zf, l1, t1, fl, rl, nm, en, st FROM probe;
UPDATE probe SET p = POINT(0, 0), g = ST_GeomFromText('MULTIPOINT(1 1,2 2)') WHERE id = 11;
