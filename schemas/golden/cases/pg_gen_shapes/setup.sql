CREATE TABLE gen_composite (region text, id int, amount numeric(8,2) NOT NULL, note text, PRIMARY KEY (region, id));
INSERT INTO gen_composite VALUES ('eu', 1, 1.50, 'a'), ('us', 1, 2.00, NULL), ('eu', 2, 0, 'c');
CREATE TABLE gen_full (a int, b text, c timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00');
ALTER TABLE gen_full REPLICA IDENTITY FULL;
INSERT INTO gen_full VALUES (1, 'x', '2021-01-01 00:00:00+00'), (2, NULL, '2022-01-01 00:00:00+00');
CREATE TABLE gen_nokey (a int, b text NOT NULL, c date NOT NULL DEFAULT '2000-01-01');
INSERT INTO gen_nokey VALUES (1, 'x', '2021-01-01'), (2, 'y', '2022-01-01');
CREATE TABLE "GenMixed" ("Id" int PRIMARY KEY, "camelCol" text, "UPPER" int NOT NULL DEFAULT 1);
INSERT INTO "GenMixed" VALUES (1, 'a', 2), (2, NULL, 3);
CREATE TABLE gen_wide (id int PRIMARY KEY, w000 integer, w001 text, w002 numeric(8,2), w003 integer, w004 text, w005 numeric(8,2), w006 integer, w007 text, w008 numeric(8,2), w009 integer, w010 text, w011 numeric(8,2), w012 integer, w013 text, w014 numeric(8,2), w015 integer, w016 text, w017 numeric(8,2), w018 integer, w019 text, w020 numeric(8,2), w021 integer, w022 text, w023 numeric(8,2), w024 integer, w025 text, w026 numeric(8,2), w027 integer, w028 text, w029 numeric(8,2), w030 integer, w031 text, w032 numeric(8,2), w033 integer, w034 text, w035 numeric(8,2), w036 integer, w037 text, w038 numeric(8,2), w039 integer, w040 text, w041 numeric(8,2), w042 integer, w043 text, w044 numeric(8,2), w045 integer, w046 text, w047 numeric(8,2), w048 integer, w049 text, w050 numeric(8,2), w051 integer, w052 text, w053 numeric(8,2), w054 integer, w055 text, w056 numeric(8,2), w057 integer, w058 text, w059 numeric(8,2), w060 integer, w061 text, w062 numeric(8,2), w063 integer, w064 text, w065 numeric(8,2), w066 integer, w067 text, w068 numeric(8,2), w069 integer, w070 text, w071 numeric(8,2), w072 integer, w073 text, w074 numeric(8,2), w075 integer, w076 text, w077 numeric(8,2), w078 integer, w079 text, w080 numeric(8,2), w081 integer, w082 text, w083 numeric(8,2), w084 integer, w085 text, w086 numeric(8,2), w087 integer, w088 text, w089 numeric(8,2), w090 integer, w091 text, w092 numeric(8,2), w093 integer, w094 text, w095 numeric(8,2), w096 integer, w097 text, w098 numeric(8,2), w099 integer, w100 text, w101 numeric(8,2), w102 integer, w103 text, w104 numeric(8,2), w105 integer, w106 text, w107 numeric(8,2), w108 integer, w109 text, w110 numeric(8,2), w111 integer, w112 text, w113 numeric(8,2), w114 integer, w115 text, w116 numeric(8,2), w117 integer, w118 text, w119 numeric(8,2));
INSERT INTO gen_wide VALUES (1, 1, 't1-1', 2.01, 4, 't4-1', 5.01, 7, 't7-1', 8.01, 10, 't10-1', 11.01, 13, 't13-1', 14.01, 16, 't16-1', 17.01, 19, 't19-1', 20.01, 22, 't22-1', 23.01, 25, 't25-1', 26.01, 28, 't28-1', 29.01, 31, 't31-1', 32.01, 34, 't34-1', 35.01, 37, 't37-1', 38.01, 40, 't40-1', 41.01, 43, 't43-1', 44.01, 46, 't46-1', 47.01, 49, 't49-1', 50.01, 52, 't52-1', 53.01, 55, 't55-1', 56.01, 58, 't58-1', 59.01, 61, 't61-1', 62.01, 64, 't64-1', 65.01, 67, 't67-1', 68.01, 70, 't70-1', 71.01, 73, 't73-1', 74.01, 76, 't76-1', 77.01, 79, 't79-1', 80.01, 82, 't82-1', 83.01, 85, 't85-1', 86.01, 88, 't88-1', 89.01, 91, 't91-1', 92.01, 94, 't94-1', 95.01, 97, 't97-1', 98.01, 100, 't100-1', 101.01, 103, 't103-1', 104.01, 106, 't106-1', 107.01, 109, 't109-1', 110.01, 112, 't112-1', 113.01, 115, 't115-1', 116.01, 118, 't118-1', 119.01);
CREATE TABLE gen_generated (
  id int PRIMARY KEY,
  gc_i2 smallint GENERATED ALWAYS AS ((id % 100)::smallint) STORED,
  gc_i4 integer GENERATED ALWAYS AS (id * 2) STORED,
  gc_i8 bigint GENERATED ALWAYS AS (id::bigint * 1000) STORED,
  gc_f8 double precision GENERATED ALWAYS AS (id / 3.0) STORED,
  gc_bool boolean GENERATED ALWAYS AS (id % 2 = 0) STORED,
  gc_text text GENERATED ALWAYS AS ('row-' || id::text) STORED
);
INSERT INTO gen_generated (id) VALUES (1), (2);
CREATE TABLE gen_parts (id int, region text NOT NULL, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE gen_parts_eu PARTITION OF gen_parts FOR VALUES IN ('eu');
CREATE TABLE gen_parts_us PARTITION OF gen_parts FOR VALUES IN ('us');
INSERT INTO gen_parts VALUES (1, 'eu', 1), (2, 'us', 2);
