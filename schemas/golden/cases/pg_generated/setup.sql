-- STORED generated columns (issue 26 item 3): Debezium reads them in the snapshot; pgoutput
-- does not send them while streaming (PostgreSQL 15), so streamed events lack them.
CREATE TABLE public.g (
  id int PRIMARY KEY,
  a int NOT NULL,
  b numeric(8,2),
  total numeric(12,2) GENERATED ALWAYS AS (a * b) STORED,
  label text GENERATED ALWAYS AS ('item-' || id::text) STORED,
  note text
);
INSERT INTO public.g (id, a, b, note) VALUES (1, 2, 3.50, 'first'), (2, 5, NULL, NULL);
