INSERT INTO gen_defaults (id) VALUES (4);
INSERT INTO gen_defaults (id, c_i2, c_i4, c_i8, c_f4, c_f8, c_num, c_numv, c_bool, c_text, c_vc, c_ch, c_bytea, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_ival, c_uuid, c_json, c_jsonb, c_inet, c_mac, c_bit, c_vbit, c_money, c_xml, c_pt, c_range) VALUES (5, 32767, 2147483647, 9223372036854775807, '-Infinity', 2e23, 0.001, '123456789012345678901234567890.5', false, 'üñí "q" \\ ✓', 'twenty chars exactly', 'abcde', '\xdeadbeef', '9999-12-31', '24:00:00', '23:59:59.999', '23:59:59.999999-12', '9999-12-31 23:59:59.999999', '1900-06-30 12:00:00.5', '9999-12-31 23:59:59+00', '0', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"x"', '{"k": 1.0e2}', '10.0.0.1', 'ff:ff:ff:ff:ff:ff', B'11111111', B'1111111111111111', '92233720368547758.07', '<c x="1">t</c>', '(-1e300,1e300)', '(,5]');
UPDATE gen_defaults SET c_i4 = c_i4 + 1 WHERE id = 1;
UPDATE gen_defaults SET id = 100 WHERE id = 2;
DELETE FROM gen_defaults WHERE id = 3;
