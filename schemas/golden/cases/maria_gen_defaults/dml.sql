SET NAMES utf8mb4;
INSERT INTO gen_defaults (c_text, c_blob, c_json) VALUES ('c', x'03', '1');
INSERT INTO gen_defaults (id, c_ti, c_tiu, c_si, c_siu, c_mi, c_miu, c_i, c_iu, c_bi, c_biu, c_f, c_d, c_dec, c_bit, c_bool, c_ch, c_vc, c_bin, c_vbin, c_text, c_blob, c_date, c_time, c_dt, c_dt0, c_ts, c_yr, c_enum, c_set, c_json) VALUES (10, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 1.17549e-38, 2.2250738585072014e-308, 0.001, b'11111111', 1, 'abcde', 'üñí "q" \\ ✓', x'ffffffff', x'0102030405060708', repeat('x', 300), x'deadbeef', '9999-12-31', '838:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:08', '2038-01-19 03:14:07.999999', 2155, 'b', 'x,y,z', '{"k": [1.5, null, "s"]}');
UPDATE gen_defaults SET c_i = c_i + 1 WHERE id = 1;
UPDATE gen_defaults SET id = 100 WHERE id = 2;
DELETE FROM gen_defaults WHERE id = 3;
