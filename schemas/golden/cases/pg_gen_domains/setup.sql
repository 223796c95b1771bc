CREATE DOMAIN d_c_i2 AS smallint;
CREATE DOMAIN dn_c_i2 AS smallint NOT NULL DEFAULT 3;
CREATE DOMAIN d_c_i4 AS integer;
CREATE DOMAIN dn_c_i4 AS integer NOT NULL DEFAULT 5;
CREATE DOMAIN d_c_i8 AS bigint;
CREATE DOMAIN dn_c_i8 AS bigint NOT NULL DEFAULT 9;
CREATE DOMAIN d_c_f4 AS real;
CREATE DOMAIN dn_c_f4 AS real NOT NULL DEFAULT 1.25;
CREATE DOMAIN d_c_f8 AS double precision;
CREATE DOMAIN dn_c_f8 AS double precision NOT NULL DEFAULT 2.5;
CREATE DOMAIN d_c_num AS numeric(12,3);
CREATE DOMAIN dn_c_num AS numeric(12,3) NOT NULL DEFAULT 1.500;
CREATE DOMAIN d_c_numv AS numeric;
CREATE DOMAIN dn_c_numv AS numeric NOT NULL DEFAULT 0;
CREATE DOMAIN d_c_bool AS boolean;
CREATE DOMAIN dn_c_bool AS boolean NOT NULL DEFAULT true;
CREATE DOMAIN d_c_text AS text;
CREATE DOMAIN dn_c_text AS text NOT NULL DEFAULT 'dflt';
CREATE DOMAIN d_c_vc AS varchar(20);
CREATE DOMAIN dn_c_vc AS varchar(20) NOT NULL DEFAULT 'v';
CREATE DOMAIN d_c_ch AS char(5);
CREATE DOMAIN dn_c_ch AS char(5) NOT NULL DEFAULT 'x';
CREATE DOMAIN d_c_bytea AS bytea;
CREATE DOMAIN dn_c_bytea AS bytea NOT NULL DEFAULT '\x01';
CREATE DOMAIN d_c_date AS date;
CREATE DOMAIN dn_c_date AS date NOT NULL DEFAULT '2000-01-01';
CREATE DOMAIN d_c_time AS time;
CREATE DOMAIN dn_c_time AS time NOT NULL DEFAULT '01:02:03';
CREATE DOMAIN d_c_time3 AS time(3);
CREATE DOMAIN dn_c_time3 AS time(3) NOT NULL DEFAULT '01:02:03.5';
CREATE DOMAIN d_c_timetz AS timetz;
CREATE DOMAIN dn_c_timetz AS timetz NOT NULL DEFAULT '01:02:03Z';
CREATE DOMAIN d_c_ts AS timestamp;
CREATE DOMAIN dn_c_ts AS timestamp NOT NULL DEFAULT '2000-01-01 00:00:00';
CREATE DOMAIN d_c_ts3 AS timestamp(3);
CREATE DOMAIN dn_c_ts3 AS timestamp(3) NOT NULL DEFAULT '2000-01-01 00:00:00';
CREATE DOMAIN d_c_tstz AS timestamptz;
CREATE DOMAIN dn_c_tstz AS timestamptz NOT NULL DEFAULT '2000-01-01 00:00:00+00';
CREATE DOMAIN d_c_ival AS interval;
CREATE DOMAIN dn_c_ival AS interval NOT NULL DEFAULT '1 day';
CREATE DOMAIN d_c_uuid AS uuid;
CREATE DOMAIN dn_c_uuid AS uuid NOT NULL DEFAULT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
CREATE DOMAIN d_c_json AS json;
CREATE DOMAIN dn_c_json AS json NOT NULL DEFAULT '{}';
CREATE DOMAIN d_c_jsonb AS jsonb;
CREATE DOMAIN dn_c_jsonb AS jsonb NOT NULL DEFAULT '{}';
CREATE DOMAIN d_c_inet AS inet;
CREATE DOMAIN dn_c_inet AS inet NOT NULL DEFAULT '127.0.0.1';
CREATE DOMAIN d_c_mac AS macaddr;
CREATE DOMAIN dn_c_mac AS macaddr NOT NULL DEFAULT '08:00:2b:01:02:03';
CREATE DOMAIN d_c_bit AS bit(8);
CREATE DOMAIN dn_c_bit AS bit(8) NOT NULL DEFAULT B'00000001';
CREATE DOMAIN d_c_vbit AS varbit(16);
CREATE DOMAIN dn_c_vbit AS varbit(16) NOT NULL DEFAULT B'1';
CREATE DOMAIN d_c_money AS money;
CREATE DOMAIN dn_c_money AS money NOT NULL DEFAULT 0;
CREATE DOMAIN d_c_xml AS xml;
CREATE DOMAIN dn_c_xml AS xml NOT NULL DEFAULT '<d/>';
CREATE DOMAIN d_c_pt AS point;
CREATE DOMAIN dn_c_pt AS point NOT NULL DEFAULT '(0,0)';
CREATE DOMAIN d_c_range AS int4range;
CREATE DOMAIN dn_c_range AS int4range NOT NULL DEFAULT '[1,2)';
CREATE DOMAIN d_pos AS integer CHECK (VALUE > 0);
CREATE DOMAIN d_amount AS numeric(10,2) DEFAULT 0 NOT NULL;
CREATE TABLE gen_domains (
  id int PRIMARY KEY,
  c_i2 d_c_i2,
  c_i2_nn dn_c_i2,
  c_i4 d_c_i4,
  c_i4_nn dn_c_i4,
  c_i8 d_c_i8,
  c_i8_nn dn_c_i8,
  c_f4 d_c_f4,
  c_f4_nn dn_c_f4,
  c_f8 d_c_f8,
  c_f8_nn dn_c_f8,
  c_num d_c_num,
  c_num_nn dn_c_num,
  c_numv d_c_numv,
  c_numv_nn dn_c_numv,
  c_bool d_c_bool,
  c_bool_nn dn_c_bool,
  c_text d_c_text,
  c_text_nn dn_c_text,
  c_vc d_c_vc,
  c_vc_nn dn_c_vc,
  c_ch d_c_ch,
  c_ch_nn dn_c_ch,
  c_bytea d_c_bytea,
  c_bytea_nn dn_c_bytea,
  c_date d_c_date,
  c_date_nn dn_c_date,
  c_time d_c_time,
  c_time_nn dn_c_time,
  c_time3 d_c_time3,
  c_time3_nn dn_c_time3,
  c_timetz d_c_timetz,
  c_timetz_nn dn_c_timetz,
  c_ts d_c_ts,
  c_ts_nn dn_c_ts,
  c_ts3 d_c_ts3,
  c_ts3_nn dn_c_ts3,
  c_tstz d_c_tstz,
  c_tstz_nn dn_c_tstz,
  c_ival d_c_ival,
  c_ival_nn dn_c_ival,
  c_uuid d_c_uuid,
  c_uuid_nn dn_c_uuid,
  c_json d_c_json,
  c_json_nn dn_c_json,
  c_jsonb d_c_jsonb,
  c_jsonb_nn dn_c_jsonb,
  c_inet d_c_inet,
  c_inet_nn dn_c_inet,
  c_mac d_c_mac,
  c_mac_nn dn_c_mac,
  c_bit d_c_bit,
  c_bit_nn dn_c_bit,
  c_vbit d_c_vbit,
  c_vbit_nn dn_c_vbit,
  c_money d_c_money,
  c_money_nn dn_c_money,
  c_xml d_c_xml,
  c_xml_nn dn_c_xml,
  c_pt d_c_pt,
  c_pt_nn dn_c_pt,
  c_range d_c_range,
  c_range_nn dn_c_range,
  c_pos d_pos,
  c_amount d_amount,
  c_amounts d_amount[]
);
INSERT INTO gen_domains (id) VALUES (1);
INSERT INTO gen_domains (id, c_i2, c_i4, c_i8, c_f4, c_f8, c_num, c_numv, c_bool, c_text, c_vc, c_ch, c_bytea, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_ival, c_uuid, c_json, c_jsonb, c_inet, c_mac, c_bit, c_vbit, c_money, c_xml, c_pt, c_range, c_pos, c_amounts) VALUES (2, 7, 42, 1, 1.5, 0.1, 12.345, 3.14159, true, 'hello', 'abc', 'ab', '\x00ff', '2024-02-29', '12:34:56.789012', '12:34:56.789', '12:34:56+02', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456+00', '1 year 2 months 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}', '192.168.0.1/24', '08:00:2b:01:02:03', B'10101010', B'101', 12.34, '<a>1</a>', '(1.5,2.5)', '[1,10)', 7, ARRAY[1.5, 2]::numeric(10,2)[]);
