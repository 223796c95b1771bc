-- The same values streamed (rows 101..103), then an update and a delete.
INSERT INTO public.more SELECT id + 100, b1, b8, b12, vb, pt, x, ip, cidr_, mac, mac8, tsv, mo, mo_a, dom, dom_t, ch, nm, u, ua, hs, ci, lt, i2a, i8a, ba, da, tsa, tza, ja, va, ca, oid_ FROM public.more WHERE id <= 3;
UPDATE public.more SET b8 = B'11111111', pt = '(-1e10,3.14159)', hs = 'k=>v', mo = 'ok', lt = 'a.b' WHERE id = 101;
DELETE FROM public.more WHERE id = 102;
