SET NAMES utf8mb4;
INSERT INTO more_types SELECT id + 100, ti_u, si, si_u, mi, mi_u, i_u, bi_u, b1, b5, b64, bo, dc0, dc30, fl, fl_p, db, ch, vc, tt, mt, lt, bn, vb, tb, mb, dt3, ts3, t3, t0, y, e, s, j FROM more_types WHERE id <= 3;
UPDATE more_types SET b5 = b'11111', dc30 = 1.5, e = 'x', s = 'b', j = '{"u": 1}' WHERE id = 101;
DELETE FROM more_types WHERE id = 102;
INSERT INTO `Mixed_Case` VALUES ('eu', 2, 'second');
UPDATE `Mixed_Case` SET `Seq` = 3 WHERE `Region` = 'eu' AND `Seq` = 2;
UPDATE `Mixed_Case` SET `Some Value` = 'changed' WHERE `Region` = 'us';
DELETE FROM `Mixed_Case` WHERE `Region` = 'eu' AND `Seq` = 1;
