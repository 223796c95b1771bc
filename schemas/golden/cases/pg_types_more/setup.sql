-- PostgreSQL types beyond the reference table, from Debezium's data-type mapping: bit
-- strings, geometry point, xml, network types, tsvector, domains, enums, char(n), name,
-- extension types (hstore, citext, ltree), arrays; snapshot rows 1..3. (tsquery and xid are
-- left out: Debezium drops columns of types it does not map; sluice writes their text.)
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
CREATE DOMAIN public.short_text AS varchar(10);
CREATE TABLE public.more (
  id int PRIMARY KEY,
  b1 bit(1), b8 bit(8), b12 bit(12), vb varbit(20),
  pt point, x xml, ip inet, cidr_ cidr, mac macaddr, mac8 macaddr8, tsv tsvector,
  mo public.mood, mo_a public.mood[], dom public.posint, dom_t public.short_text,
  ch char(5), nm name, u uuid, ua uuid[],
  hs hstore, ci citext, lt ltree,
  i2a smallint[], i8a bigint[], ba bool[], da date[], tsa timestamp[], tza timestamptz[],
  ja jsonb[], va varchar(4)[], ca char(2)[],
  oid_ oid
);
INSERT INTO public.more VALUES
 (1, B'1', B'10100101', B'101010101010', B'1101',
  '(1.5,-2.25)', '<a b="1">x &amp; y</a>', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  'a fat cat sat',
  'happy', '{sad,happy}', 5, 'short',
  'ab', 'pg_name', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}',
  'a=>1, b=>NULL, "c d"=>"e,f"', 'MiXeD', 'top.science.astronomy',
  '{1,-2,NULL}', '{9223372036854775807}', '{t,f,NULL}', '{2024-02-29,NULL}', '{"2024-02-29 13:45:56.123456"}', '{"2024-02-29 13:45:56.123456+02"}',
  '{"{\"a\": 1}",NULL}', '{abcd,"a b"}', '{a,bb}',
  12345),
 (2, B'0', B'00000000', B'000000000001', B'',
  '(0,0)', '<empty/>', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff',
  '',
  'sad', '{}', 1, '',
  '', '', '00000000-0000-0000-0000-000000000000', '{}',
  '', '', '',
  '{}', '{}', '{}', '{}', '{}', '{}',
  '{}', '{}', '{}',
  0),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
