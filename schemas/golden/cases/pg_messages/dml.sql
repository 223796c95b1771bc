BEGIN;
INSERT INTO public.msg_t VALUES (2, 'b');
SELECT pg_logical_emit_message(true, 'audit', 'in a transaction');
UPDATE public.msg_t SET v = 'bb' WHERE id = 2;
COMMIT;
SELECT pg_logical_emit_message(false, 'audit', 'outside any transaction');
SELECT pg_logical_emit_message(true, 'binary', '\x00ff10'::bytea);
SELECT pg_logical_emit_message(false, '', '');
INSERT INTO public.msg_t VALUES (3, 'c');
