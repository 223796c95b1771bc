-- Table shapes: a schema name with a space and capitals, a quoted mixed-case table with a
-- composite key of three types, a second schema; snapshot rows first.
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA inv;
CREATE TABLE "Sales Dept"."Order Items" (
  "OrderId" uuid NOT NULL, "Line" smallint NOT NULL, "Sku Code" text NOT NULL,
  "Qty" int DEFAULT 1, "Note" varchar(40),
  PRIMARY KEY ("OrderId", "Line", "Sku Code")
);
CREATE TABLE inv.stock (sku text PRIMARY KEY, on_hand bigint NOT NULL DEFAULT 0, price numeric(8,2));
INSERT INTO "Sales Dept"."Order Items" VALUES
  ('11111111-1111-1111-1111-111111111111', 1, 'A-1', 2, 'first'),
  ('11111111-1111-1111-1111-111111111111', 2, 'B 2', NULL, NULL);
INSERT INTO inv.stock VALUES ('A-1', 10, 9.99), ('B 2', 0, NULL);
-- A key whose column order differs from the table's.
CREATE TABLE inv.pairs (a int NOT NULL, b text NOT NULL, v text, PRIMARY KEY (b, a));
INSERT INTO inv.pairs VALUES (1, 'x', 'one');
