-- Multi-row statements, one transaction over both tables, an update that changes nothing,
-- a key change, ADD COLUMN and DROP COLUMN while streaming.
INSERT INTO "Sales Dept"."Order Items" VALUES
  ('22222222-2222-2222-2222-222222222222', 1, 'A-1', 5, 'multi'),
  ('22222222-2222-2222-2222-222222222222', 2, 'C-3', 1, 'multi');
BEGIN;
UPDATE inv.stock SET on_hand = on_hand - 5 WHERE sku = 'A-1';
INSERT INTO inv.stock VALUES ('C-3', 7, 1.50);
UPDATE "Sales Dept"."Order Items" SET "Note" = 'in tx' WHERE "Line" = 1;
COMMIT;
UPDATE inv.stock SET on_hand = on_hand WHERE sku = 'B 2';
UPDATE "Sales Dept"."Order Items" SET "Line" = 3 WHERE "OrderId" = '22222222-2222-2222-2222-222222222222' AND "Line" = 2;
ALTER TABLE inv.stock ADD COLUMN "Bin" text DEFAULT 'x';
INSERT INTO inv.stock VALUES ('D-4', 1, 2.00, 'b7');
UPDATE inv.stock SET "Bin" = 'b1' WHERE sku = 'A-1';
ALTER TABLE inv.stock DROP COLUMN price;
INSERT INTO inv.stock VALUES ('E-5', 2, 'b9');
DELETE FROM inv.stock WHERE sku IN ('B 2', 'C-3');
DELETE FROM "Sales Dept"."Order Items" WHERE "Line" = 1;
INSERT INTO inv.pairs VALUES (2, 'y', 'two');
UPDATE inv.pairs SET a = 3 WHERE b = 'y';
