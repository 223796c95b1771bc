#!/usr/bin/env python3
"""Generate differential cases from a matrix (issue 26): every column type x {nullable,
NOT NULL with each kind of default, in an array, under a domain, generated} x table shapes
(composite key, no key with FULL and DEFAULT identity, mixed-case names, 120 columns,
partitioned) x operations (snapshot, insert, update, key change, delete, TRUNCATE, DDL between
writes, and the restart every case has between its snapshot and its DML), for PostgreSQL and
MariaDB/MySQL. Few rows per shape, so recordings stay small.

    python3 schemas/golden/gen/generate.py            # writes schemas/golden/cases/*_gen_*
    ORACLE=../shared/debezium-oracle/record bash schemas/golden/cases/record.sh pg_gen_nullable ...

The output is deterministic: regenerating without a change to this file changes no case.
tests/it/cases.rs runs every generated case like the hand-written ones."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "cases")

# PostgreSQL: (column, type, [values: typical first, then extremes], literal default,
#              generated expression over `id` or None, array-capable)
PG_TYPES = [
    ("c_i2", "smallint", ["7", "-32768", "32767"], "3", "(id % 100)::smallint", True),
    ("c_i4", "integer", ["42", "-2147483648", "2147483647"], "5", "id * 2", True),
    ("c_i8", "bigint", ["1", "-9223372036854775808", "9223372036854775807"], "9", "id::bigint * 1000", True),
    ("c_f4", "real", ["1.5", "'1.17549435e-38'", "'3.4028235e38'", "'-0.0'", "'NaN'", "'-Infinity'"], "1.25", None, True),
    ("c_f8", "double precision", ["0.1", "'4.9e-324'", "'1.7976931348623157e308'", "'Infinity'", "2e23"], "2.5", "id / 3.0", True),
    ("c_num", "numeric(12,3)", ["12.345", "'-999999999.999'", "0.001"], "1.500", None, True),
    ("c_numv", "numeric", ["3.14159", "'-1e-20'", "'123456789012345678901234567890.5'"], "0", None, True),
    ("c_bool", "boolean", ["true", "false", "false"], "true", "id % 2 = 0", True),
    ("c_text", "text", ["'hello'", "''", "'üñí \"q\" \\\\ ✓'"], "'dflt'", "'row-' || id::text", True),
    ("c_vc", "varchar(20)", ["'abc'", "''", "'twenty chars exactly'"], "'v'", None, True),
    ("c_ch", "char(5)", ["'ab'", "''", "'abcde'"], "'x'", None, True),
    ("c_bytea", "bytea", ["'\\x00ff'", "''", "'\\xdeadbeef'"], "'\\x01'", None, True),
    ("c_date", "date", ["'2024-02-29'", "'0001-01-01'", "'9999-12-31'"], "'2000-01-01'", None, True),
    ("c_time", "time", ["'12:34:56.789012'", "'00:00:00'", "'24:00:00'"], "'01:02:03'", None, True),
    ("c_time3", "time(3)", ["'12:34:56.789'", "'00:00:00'", "'23:59:59.999'"], "'01:02:03.5'", None, True),
    ("c_timetz", "timetz", ["'12:34:56+02'", "'00:00:00+14'", "'23:59:59.999999-12'"], "'01:02:03Z'", None, True),
    ("c_ts", "timestamp", ["'2024-01-02 03:04:05.123456'", "'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"], "'2000-01-01 00:00:00'", None, True),
    ("c_ts3", "timestamp(3)", ["'2024-01-02 03:04:05.123'", "'1970-01-01 00:00:00'", "'1900-06-30 12:00:00.5'"], "'2000-01-01 00:00:00'", None, True),
    ("c_tstz", "timestamptz", ["'2024-01-02 03:04:05.123456+00'", "'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59+00'"], "'2000-01-01 00:00:00+00'", None, True),
    ("c_ival", "interval", ["'1 year 2 months 3 days 04:05:06.789'", "'-178000000 years'", "'0'"], "'1 day'", None, True),
    ("c_uuid", "uuid", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"], "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", None, True),
    ("c_json", "json", ["'{\"a\": 1}'", "'[]'", "'\"x\"'"], "'{}'", None, False),
    ("c_jsonb", "jsonb", ["'{\"b\": [1, 2]}'", "'null'", "'{\"k\": 1.0e2}'"], "'{}'", None, True),
    ("c_inet", "inet", ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"], "'127.0.0.1'", None, True),
    ("c_mac", "macaddr", ["'08:00:2b:01:02:03'", "'00:00:00:00:00:00'", "'ff:ff:ff:ff:ff:ff'"], "'08:00:2b:01:02:03'", None, True),
    # bit(n)[] is left out of the arrays: Debezium writes it with a scalar Bits schema and a
    # null value (a documented difference, README).
    ("c_bit", "bit(8)", ["B'10101010'", "B'00000000'", "B'11111111'"], "B'00000001'", None, False),
    ("c_vbit", "varbit(16)", ["B'101'", "B''", "B'1111111111111111'"], "B'1'", None, True),
    ("c_money", "money", ["12.34", "'-92233720368547758.08'", "'92233720368547758.07'"], "0", None, True),
    ("c_xml", "xml", ["'<a>1</a>'", "'<b/>'", "'<c x=\"1\">t</c>'"], "'<d/>'", None, False),
    ("c_pt", "point", ["'(1.5,2.5)'", "'(0,0)'", "'(-1e300,1e300)'"], "'(0,0)'", None, False),
    ("c_range", "int4range", ["'[1,10)'", "'empty'", "'(,5]'"], "'[1,2)'", None, False),
]

# MariaDB/MySQL: (column, type, [values], literal default, generated expression or None)
MY_TYPES = [
    ("c_ti", "tinyint", ["7", "-128", "127"], "3", "id % 100"),
    ("c_tiu", "tinyint unsigned", ["7", "0", "255"], "3", None),
    ("c_si", "smallint", ["7", "-32768", "32767"], "3", None),
    ("c_siu", "smallint unsigned", ["7", "0", "65535"], "3", None),
    ("c_mi", "mediumint", ["7", "-8388608", "8388607"], "3", None),
    ("c_miu", "mediumint unsigned", ["7", "0", "16777215"], "3", None),
    ("c_i", "int", ["42", "-2147483648", "2147483647"], "5", "id * 2"),
    ("c_iu", "int unsigned", ["42", "0", "4294967295"], "5", None),
    ("c_bi", "bigint", ["1", "-9223372036854775808", "9223372036854775807"], "9", None),
    ("c_biu", "bigint unsigned", ["1", "0", "18446744073709551615"], "9", None),
    ("c_f", "float", ["1.5", "-3.40282e38", "1.17549e-38"], "1.25", None),
    ("c_d", "double", ["0.1", "-1.7976931348623157e308", "2.2250738585072014e-308"], "2.5", "id / 3"),
    ("c_dec", "decimal(12,3)", ["12.345", "-999999999.999", "0.001"], "1.500", None),
    ("c_bit", "bit(8)", ["b'10101010'", "b'00000000'", "b'11111111'"], "b'1'", None),
    ("c_bool", "boolean", ["true", "false", "1"], "1", None),
    ("c_ch", "char(5)", ["'ab'", "''", "'abcde'"], "'x'", None),
    ("c_vc", "varchar(20)", ["'abc'", "''", "'üñí \"q\" \\\\ ✓'"], "'v'", "concat('row-', id)"),
    ("c_bin", "binary(4)", ["x'00ff'", "x'00000000'", "x'ffffffff'"], "x'01'", None),
    ("c_vbin", "varbinary(8)", ["x'deadbeef'", "x''", "x'0102030405060708'"], "x'01'", None),
    ("c_text", "text", ["'hello'", "''", "repeat('x', 300)"], None, None),
    ("c_blob", "blob", ["x'00ff'", "x''", "x'deadbeef'"], None, None),
    ("c_date", "date", ["'2024-02-29'", "'1000-01-01'", "'9999-12-31'"], "'2000-01-01'", None),
    ("c_time", "time(6)", ["'12:34:56.789012'", "'-838:59:59'", "'838:59:59'"], "'01:02:03'", None),
    ("c_dt", "datetime(6)", ["'2024-01-02 03:04:05.123456'", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"], "'2000-01-01 00:00:00'", None),
    ("c_dt0", "datetime", ["'2024-01-02 03:04:05'", "'1970-01-01 00:00:00'", "'2038-01-19 03:14:08'"], "'2000-01-01 00:00:00'", None),
    ("c_ts", "timestamp(6) NULL", ["'2024-01-02 03:04:05.123456'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'"], "'2000-01-01 00:00:00'", None),
    ("c_yr", "year", ["2024", "1901", "2155"], "2000", None),
    ("c_enum", "enum('a','b','c d')", ["'a'", "'c d'", "'b'"], "'b'", None),
    ("c_set", "set('x','y','z')", ["'x,z'", "''", "'x,y,z'"], "'y'", None),
    ("c_json", "json", ["'{\"a\": 1}'", "'[]'", "'{\"k\": [1.5, null, \"s\"]}'"], None, None),
]


def write_case(name, setup, dml, tables, props="", sluice=""):
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    for file, text in [("setup.sql", setup), ("dml.sql", dml), ("tables", tables + "\n"),
                       ("props", props), ("sluice-source.yaml", sluice)]:
        with open(os.path.join(d, file), "w") as f:
            f.write(text)


def rows_sql(table, cols, values_by_col, ids, null_row=None):
    """INSERT statements: row i takes each column's value i (cycling); null_row gets NULLs."""
    out = []
    for n, i in enumerate(ids):
        vals = []
        for c in cols:
            vs = values_by_col[c]
            vals.append("NULL" if i == null_row else vs[n % len(vs)])
        out.append(f"INSERT INTO {table} (id, {', '.join(cols)}) VALUES ({i}, {', '.join(vals)});")
    return out


def dml_ops(table, key="id", update_col=None, update_val=None, truncate=False):
    out = [f"UPDATE {table} SET {update_col} = {update_val} WHERE {key} = 1;",
           f"UPDATE {table} SET {key} = 100 WHERE {key} = 2;",
           f"DELETE FROM {table} WHERE {key} = 3;"]
    if truncate:
        out.append(f"TRUNCATE {table};")
    return out


def pg():
    names = [t[0] for t in PG_TYPES]
    vals = {t[0]: t[2] for t in PG_TYPES}

    # Nullable: every type, typical and extreme values, a row of NULLs; streamed inserts,
    # updates, a key change, a delete.
    ddl = ",\n  ".join(f"{c} {ty}" for c, ty, *_ in PG_TYPES)
    setup = [f"CREATE TABLE gen_nullable (\n  id int PRIMARY KEY,\n  {ddl}\n);"]
    setup += rows_sql("gen_nullable", names, vals, [1, 2], null_row=2)
    dml = rows_sql("gen_nullable", names, {c: v[1:] + v[:1] for c, v in vals.items()}, [3, 4, 5])
    dml += rows_sql("gen_nullable", names, vals, [6], null_row=6)
    dml += dml_ops("gen_nullable", update_col="c_text", update_val="'changed'")
    write_case("pg_gen_nullable", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "public.gen_nullable")

    # Each kind of default (a literal, a cast, a function call, a sequence, an identity, the
    # current time, NULL) on NOT NULL and nullable columns of every type; rows that take the
    # defaults, and key-only delete before-images (which Debezium fills from the defaults).
    # Volatile defaults are always given explicit values, so the rows stay deterministic.
    cols = []
    for c, ty, v, dflt, _, _ in PG_TYPES:
        cols.append(f"{c} {ty} NOT NULL DEFAULT {dflt}")
    for c, ty, v, dflt, _, _ in PG_TYPES:
        cols.append(f"{c}_n {ty} DEFAULT {dflt}")
    volatile = {
        "k_now": ("timestamptz NOT NULL DEFAULT now()", "'2020-01-01 00:00:00+00'"),
        "k_now_n": ("timestamptz DEFAULT now()", "'2020-01-01 00:00:00+00'"),
        "k_cur3": ("timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP", "'2020-01-01 00:00:00'"),
        "k_cur_n": ("timestamp DEFAULT CURRENT_TIMESTAMP", "'2020-01-01 00:00:00'"),
        "k_today": ("date NOT NULL DEFAULT CURRENT_DATE", "'2020-01-01'"),
        "k_today_n": ("date DEFAULT CURRENT_DATE", "'2020-01-01'"),
        "k_ltime": ("time NOT NULL DEFAULT LOCALTIME", "'01:00:00'"),
        "k_uuid": ("uuid NOT NULL DEFAULT gen_random_uuid()", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
        "k_uuid_n": ("uuid DEFAULT gen_random_uuid()", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
        "k_rand": ("double precision NOT NULL DEFAULT random()", "0.5"),
        "k_rand_n": ("double precision DEFAULT random()", "0.5"),
    }
    cols += [f"{k} {d}" for k, (d, _) in volatile.items()]
    cols += [
        "k_serial serial NOT NULL",
        "k_small smallserial",
        "k_ident bigint GENERATED BY DEFAULT AS IDENTITY",
        "k_ident_a int GENERATED ALWAYS AS IDENTITY",
        "k_upper text NOT NULL DEFAULT upper('x')",
        "k_upper_n text DEFAULT upper('x')",
        "k_len int NOT NULL DEFAULT length('abc')",
        "k_len_n int DEFAULT length('abc')",
        "k_abs_n numeric(5,2) DEFAULT abs(-1.5)",
        "k_bool_n boolean DEFAULT (length('a') > 2)",
        "k_json_n jsonb DEFAULT jsonb_build_object('a', 1)",
        "k_ival_n interval DEFAULT make_interval(days => 1)",
        "k_cast text NOT NULL DEFAULT 'a'::text",
        "k_cast_int integer NOT NULL DEFAULT '12'::integer",
        "k_cast_num numeric(6,3) DEFAULT '1.5'::numeric",
        "k_neg integer NOT NULL DEFAULT -5",
        "k_negf double precision DEFAULT -2.5",
        "k_expr integer NOT NULL DEFAULT (2 + 3)",
        "k_concat text DEFAULT ('a' || 'b')",
        "k_quote text DEFAULT 'it''s'",
        "k_null_text text DEFAULT NULL",
        "k_null_int int DEFAULT NULL::integer",
        "k_arr int[] NOT NULL DEFAULT '{}'",
        "k_arr2 text[] DEFAULT '{a,b}'",
        "k_bit1 bit(1) DEFAULT B'1'",
        "k_enum gen_level NOT NULL DEFAULT 'hi'",
        "k_enum_n gen_level DEFAULT 'lo'",
    ]
    vnames = list(volatile)
    vvals = [volatile[k][1] for k in vnames]
    head = ["CREATE TYPE gen_level AS ENUM ('lo', 'hi');"]
    ins = lambda i, extra_cols="", extra_vals="": (
        f"INSERT INTO gen_defaults (id, {', '.join(vnames)}{extra_cols}) VALUES ({i}, {', '.join(vvals)}{extra_vals});")
    setup = head + ["CREATE TABLE gen_defaults (\n  id int PRIMARY KEY,\n  " + ",\n  ".join(cols) + "\n);",
             ins(1), ins(2),
             ins(3, ", " + ", ".join(names), ", " + ", ".join(vals[c][0] for c in names))]
    dml = [ins(4),
           ins(5, ", " + ", ".join(names) + ", " + ", ".join(n + "_n" for n in names),
               ", " + ", ".join(vals[c][-1] for c in names) + ", " + ", ".join("NULL" for _ in names))]
    dml += dml_ops("gen_defaults", update_col="c_i4", update_val="c_i4 + 1")
    dml.append("DELETE FROM gen_defaults WHERE id = 5;")
    write_case("pg_gen_defaults", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "public.gen_defaults")

    # Arrays of every type that has them, NULL elements inside, empty arrays.
    arr = [(c, ty, v) for c, ty, v, _, _, a in PG_TYPES if a]
    ddl = ",\n  ".join(f"{c} {ty}[]" for c, ty, _ in arr)
    setup = [f"CREATE TABLE gen_arrays (\n  id int PRIMARY KEY,\n  {ddl}\n);"]
    def arr_lit(ty, vs, with_null):
        items = list(vs[:2]) + (["NULL"] if with_null else [])
        return f"ARRAY[{', '.join(items)}]::{ty}[]"
    names_a = [c for c, _, _ in arr]
    setup.append(f"INSERT INTO gen_arrays (id, {', '.join(names_a)}) VALUES (1, {', '.join(arr_lit(ty, v, True) for _, ty, v in arr)});")
    setup.append(f"INSERT INTO gen_arrays (id, {', '.join(names_a)}) VALUES (2, {', '.join(f'{chr(39)}{{}}{chr(39)}::{ty}[]' for _, ty, _ in arr)});")
    dml = [f"INSERT INTO gen_arrays (id, {', '.join(names_a)}) VALUES (3, {', '.join(arr_lit(ty, v[1:], False) for _, ty, v in arr)});",
           "INSERT INTO gen_arrays (id) VALUES (4);",
           "UPDATE gen_arrays SET c_i4 = ARRAY[NULL, NULL]::integer[] WHERE id = 1;",
           "DELETE FROM gen_arrays WHERE id = 2;"]
    write_case("pg_gen_arrays", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "public.gen_arrays")

    # A domain over every type: plain, NOT NULL with a default, with a CHECK; an array of one.
    setup, cols = [], []
    for c, ty, v, dflt, _, _ in PG_TYPES:
        setup.append(f"CREATE DOMAIN d_{c} AS {ty};")
        setup.append(f"CREATE DOMAIN dn_{c} AS {ty} NOT NULL DEFAULT {dflt};")
        cols += [f"{c} d_{c}", f"{c}_nn dn_{c}"]
    setup.append("CREATE DOMAIN d_pos AS integer CHECK (VALUE > 0);")
    setup.append("CREATE DOMAIN d_amount AS numeric(10,2) DEFAULT 0 NOT NULL;")
    cols += ["c_pos d_pos", "c_amount d_amount", "c_amounts d_amount[]"]
    setup.append("CREATE TABLE gen_domains (\n  id int PRIMARY KEY,\n  " + ",\n  ".join(cols) + "\n);")
    setup.append("INSERT INTO gen_domains (id) VALUES (1);")
    setup.append(f"INSERT INTO gen_domains (id, {', '.join(names)}, c_pos, c_amounts) VALUES (2, {', '.join(vals[c][0] for c in names)}, 7, ARRAY[1.5, 2]::numeric(10,2)[]);")
    dml = [f"INSERT INTO gen_domains (id, {', '.join(names)}, {', '.join(n + '_nn' for n in names)}) VALUES (3, {', '.join(vals[c][-1] for c in names)}, {', '.join(vals[c][1] for c in names)});",
           "UPDATE gen_domains SET c_amount = 12.5 WHERE id = 1;",
           "DELETE FROM gen_domains WHERE id = 2;"]
    write_case("pg_gen_domains", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "public.gen_domains")

    # Table shapes: composite key, no key (FULL and DEFAULT identity), mixed-case names, 120
    # columns, a partitioned table; generated columns; TRUNCATE.
    gen_cols = ",\n  ".join(f"g{c} {ty} GENERATED ALWAYS AS ({expr}) STORED" for c, ty, _, _, expr, _ in PG_TYPES if expr)
    wide = ", ".join(f"w{i:03d} {'integer' if i % 3 == 0 else 'text' if i % 3 == 1 else 'numeric(8,2)'}" for i in range(120))
    wide_vals = lambda r: ", ".join(str(i + r) if i % 3 == 0 else f"'t{i}-{r}'" if i % 3 == 1 else f"{i}.{r:02d}" for i in range(120))
    setup = [
        "CREATE TABLE gen_composite (region text, id int, amount numeric(8,2) NOT NULL, note text, PRIMARY KEY (region, id));",
        "INSERT INTO gen_composite VALUES ('eu', 1, 1.50, 'a'), ('us', 1, 2.00, NULL), ('eu', 2, 0, 'c');",
        "CREATE TABLE gen_full (a int, b text, c timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00');",
        "ALTER TABLE gen_full REPLICA IDENTITY FULL;",
        "INSERT INTO gen_full VALUES (1, 'x', '2021-01-01 00:00:00+00'), (2, NULL, '2022-01-01 00:00:00+00');",
        "CREATE TABLE gen_nokey (a int, b text NOT NULL, c date NOT NULL DEFAULT '2000-01-01');",
        "INSERT INTO gen_nokey VALUES (1, 'x', '2021-01-01'), (2, 'y', '2022-01-01');",
        'CREATE TABLE "GenMixed" ("Id" int PRIMARY KEY, "camelCol" text, "UPPER" int NOT NULL DEFAULT 1);',
        'INSERT INTO "GenMixed" VALUES (1, \'a\', 2), (2, NULL, 3);',
        f"CREATE TABLE gen_wide (id int PRIMARY KEY, {wide});",
        f"INSERT INTO gen_wide VALUES (1, {wide_vals(1)});",
        f"CREATE TABLE gen_generated (\n  id int PRIMARY KEY,\n  {gen_cols}\n);",
        "INSERT INTO gen_generated (id) VALUES (1), (2);",
        "CREATE TABLE gen_parts (id int, region text NOT NULL, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);",
        "CREATE TABLE gen_parts_eu PARTITION OF gen_parts FOR VALUES IN ('eu');",
        "CREATE TABLE gen_parts_us PARTITION OF gen_parts FOR VALUES IN ('us');",
        "INSERT INTO gen_parts VALUES (1, 'eu', 1), (2, 'us', 2);",
    ]
    dml = [
        "INSERT INTO gen_composite VALUES ('us', 2, 9.99, 'd');",
        "UPDATE gen_composite SET amount = 3.25 WHERE region = 'eu' AND id = 1;",
        "UPDATE gen_composite SET region = 'ap' WHERE region = 'us' AND id = 1;",
        "DELETE FROM gen_composite WHERE region = 'eu' AND id = 2;",
        "INSERT INTO gen_full VALUES (3, 'z', '2023-01-01 00:00:00+00');",
        "UPDATE gen_full SET b = 'changed' WHERE a = 1;",
        "DELETE FROM gen_full WHERE a = 2;",
        # Without a key or FULL identity, the publication refuses UPDATE and DELETE.
        "INSERT INTO gen_nokey VALUES (3, 'z', '2023-01-01');",
        'INSERT INTO "GenMixed" VALUES (3, \'c\', 4);',
        'UPDATE "GenMixed" SET "camelCol" = \'b\' WHERE "Id" = 2;',
        'UPDATE "GenMixed" SET "Id" = 20 WHERE "Id" = 2;',
        'DELETE FROM "GenMixed" WHERE "Id" = 1;',
        f"INSERT INTO gen_wide VALUES (2, {wide_vals(2)});",
        "UPDATE gen_wide SET w001 = 'changed' WHERE id = 1;",
        "DELETE FROM gen_wide WHERE id = 2;",
        "INSERT INTO gen_generated (id) VALUES (3);",
        "UPDATE gen_generated SET id = 30 WHERE id = 1;",
        "DELETE FROM gen_generated WHERE id = 2;",
        "INSERT INTO gen_parts VALUES (3, 'eu', 3);",
        "UPDATE gen_parts SET v = 20 WHERE id = 2;",
        "UPDATE gen_parts SET region = 'us' WHERE id = 1;",
        "DELETE FROM gen_parts WHERE id = 3;",
        "TRUNCATE gen_composite;",
        "INSERT INTO gen_composite VALUES ('eu', 5, 1, 'after truncate');",
    ]
    tables = "public.gen_composite,public.gen_full,public.gen_nokey,public.GenMixed,public.gen_wide,public.gen_generated,public.gen_parts,public.gen_parts_eu,public.gen_parts_us"
    # Debezium's default: changes go to the partitions' topics (sluice's default publishes
    # them under the root, a documented difference).
    write_case("pg_gen_shapes", "\n".join(setup) + "\n", "\n".join(dml) + "\n", tables,
               sluice="      publish_via_partition_root: false\n")

    # DDL between writes: ADD COLUMN with a default, RENAME COLUMN, a type change, an enum
    # value added, DROP COLUMN; rows before and after each. Nullability and defaults are read
    # from the catalog when the stream first describes the table, which can be after later
    # statements ran, so no statement here changes what the catalog says of a column that
    # rows streamed before it have: no SET NOT NULL (Debezium's recording had `b` required
    # on a row streamed three statements before it), and the column dropped is a nullable one
    # without a default (dropping the NOT NULL `c` made it optional in records before the
    # drop). The recorded shapes no longer depend on the recorder's timing.
    setup = ["CREATE TYPE gen_mood AS ENUM ('sad', 'ok');",
             "CREATE TABLE gen_ddl (id int PRIMARY KEY, a text, b int, m gen_mood);",
             "INSERT INTO gen_ddl VALUES (1, 'x', 1, 'ok'), (2, 'y', 2, 'sad');"]
    # The enum value is added before the first streamed row: Debezium reads an enum's labels
    # when it connects, so rows streamed before an ADD VALUE would carry labels they did not
    # have (a timing artifact of the recording, not a shape).
    dml = ["ALTER TYPE gen_mood ADD VALUE 'happy';",
           "INSERT INTO gen_ddl VALUES (3, 'z', 3, 'ok');",
           "ALTER TABLE gen_ddl ADD COLUMN c numeric(6,2) NOT NULL DEFAULT 1.25;",
           "INSERT INTO gen_ddl VALUES (4, 'w', 4, 'ok', 2.5);",
           "UPDATE gen_ddl SET a = 'x2' WHERE id = 1;",
           "INSERT INTO gen_ddl VALUES (5, 'v', 5, 'sad', 3);",
           "ALTER TABLE gen_ddl RENAME COLUMN a TO a2;",
           "UPDATE gen_ddl SET a2 = 'x3' WHERE id = 1;",
           "INSERT INTO gen_ddl VALUES (6, 'u', 6, 'happy', 4);",
           "ALTER TABLE gen_ddl ALTER COLUMN b TYPE bigint;",
           "INSERT INTO gen_ddl VALUES (7, 't', 9000000000, 'ok', 5);",
           "ALTER TABLE gen_ddl DROP COLUMN a2;",
           "INSERT INTO gen_ddl VALUES (8, 8, 'ok', 6);",
           "DELETE FROM gen_ddl WHERE id = 2;"]
    write_case("pg_gen_ddl", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "public.gen_ddl")


def my(prefix):
    names = [t[0] for t in MY_TYPES]
    vals = {t[0]: t[2] for t in MY_TYPES}
    head = "SET NAMES utf8mb4;"

    ddl = ",\n  ".join(f"{c} {ty}" for c, ty, *_ in MY_TYPES)
    setup = [head, f"CREATE TABLE gen_nullable (\n  id int PRIMARY KEY,\n  {ddl}\n) DEFAULT CHARSET=utf8mb4;"]
    setup += rows_sql("gen_nullable", names, vals, [1, 2], null_row=2)
    dml = [head] + rows_sql("gen_nullable", names, {c: v[1:] + v[:1] for c, v in vals.items()}, [3, 4, 5])
    dml += rows_sql("gen_nullable", names, vals, [6], null_row=6)
    dml += dml_ops("gen_nullable", update_col="c_vc", update_val="'changed'")
    write_case(f"{prefix}_gen_nullable", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "oracle.gen_nullable")

    cols = []
    for c, ty, v, dflt, _ in MY_TYPES:
        ty = ty.replace(" NULL", "")
        cols.append(f"{c} {ty} NOT NULL" + (f" DEFAULT {dflt}" if dflt is not None else ""))
    cols += [
        "k_ts timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)",
        "k_dt datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)",
        "k_dt0 datetime NOT NULL DEFAULT CURRENT_TIMESTAMP",
        "k_null_dflt int DEFAULT 7",
        "k_vnull varchar(10) DEFAULT 'd'",
    ]
    setup = [head, "CREATE TABLE gen_defaults (\n  id int PRIMARY KEY AUTO_INCREMENT,\n  " + ",\n  ".join(cols) + "\n) DEFAULT CHARSET=utf8mb4;",
             f"INSERT INTO gen_defaults (id, c_text, c_blob, c_json, {', '.join(c for c in names if c not in ('c_text', 'c_blob', 'c_json'))}) VALUES (1, 'a', x'01', '{{}}', {', '.join(vals[c][0] for c in names if c not in ('c_text', 'c_blob', 'c_json'))});",
             "INSERT INTO gen_defaults (c_text, c_blob, c_json) VALUES ('b', x'02', '[]');"]
    dml = [head, "INSERT INTO gen_defaults (c_text, c_blob, c_json) VALUES ('c', x'03', '1');",
           f"INSERT INTO gen_defaults (id, {', '.join(names)}) VALUES (10, {', '.join(vals[c][-1] for c in names)});",
           "UPDATE gen_defaults SET c_i = c_i + 1 WHERE id = 1;",
           "UPDATE gen_defaults SET id = 100 WHERE id = 2;",
           "DELETE FROM gen_defaults WHERE id = 3;"]
    excl = f"{'oracle'}\\.gen_defaults\\.(k_ts|k_dt|k_dt0)"
    write_case(f"{prefix}_gen_defaults", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "oracle.gen_defaults",
               props=f"column.exclude.list={excl}\n",
               sluice=f'      column_exclude_list: ["{excl.replace(chr(92), chr(92) * 2)}"]\n')

    gen_cols = ",\n  ".join(
        f"g{c} {ty} GENERATED ALWAYS AS ({expr}) {'STORED' if i % 2 else 'VIRTUAL'}"
        for i, (c, ty, _, _, expr) in enumerate(t for t in MY_TYPES if t[4]))
    wide = ", ".join(f"w{i:03d} {'int' if i % 3 == 0 else 'varchar(20)' if i % 3 == 1 else 'decimal(8,2)'}" for i in range(120))
    wide_vals = lambda r: ", ".join(str(i + r) if i % 3 == 0 else f"'t{i}-{r}'" if i % 3 == 1 else f"{i}.{r:02d}" for i in range(120))
    setup = [head,
             "CREATE TABLE gen_composite (region varchar(8), id int, amount decimal(8,2) NOT NULL, note text, PRIMARY KEY (region, id)) DEFAULT CHARSET=utf8mb4;",
             "INSERT INTO gen_composite VALUES ('eu', 1, 1.50, 'a'), ('us', 1, 2.00, NULL), ('eu', 2, 0, 'c');",
             "CREATE TABLE gen_nokey (a int, b varchar(10) NOT NULL, c date NOT NULL DEFAULT '2000-01-01') DEFAULT CHARSET=utf8mb4;",
             "INSERT INTO gen_nokey VALUES (1, 'x', '2021-01-01'), (2, 'y', '2022-01-01');",
             "CREATE TABLE GenMixed (Id int PRIMARY KEY, camelCol varchar(10), `UPPER` int NOT NULL DEFAULT 1) DEFAULT CHARSET=utf8mb4;",
             "INSERT INTO GenMixed VALUES (1, 'a', 2), (2, NULL, 3);",
             f"CREATE TABLE gen_wide (id int PRIMARY KEY, {wide}) DEFAULT CHARSET=utf8mb4;",
             f"INSERT INTO gen_wide VALUES (1, {wide_vals(1)});",
             f"CREATE TABLE gen_generated (\n  id int PRIMARY KEY,\n  {gen_cols}\n) DEFAULT CHARSET=utf8mb4;",
             "INSERT INTO gen_generated (id) VALUES (1), (2);"]
    dml = [head,
           "INSERT INTO gen_composite VALUES ('us', 2, 9.99, 'd');",
           "UPDATE gen_composite SET amount = 3.25 WHERE region = 'eu' AND id = 1;",
           "UPDATE gen_composite SET region = 'ap' WHERE region = 'us' AND id = 1;",
           "DELETE FROM gen_composite WHERE region = 'eu' AND id = 2;",
           "INSERT INTO gen_nokey VALUES (3, 'z', '2023-01-01');",
           "UPDATE gen_nokey SET b = 'changed' WHERE a = 1;",
           "DELETE FROM gen_nokey WHERE a = 2;",
           "INSERT INTO GenMixed VALUES (3, 'c', 4);",
           "UPDATE GenMixed SET camelCol = 'b' WHERE Id = 2;",
           "UPDATE GenMixed SET Id = 20 WHERE Id = 2;",
           "DELETE FROM GenMixed WHERE Id = 1;",
           f"INSERT INTO gen_wide VALUES (2, {wide_vals(2)});",
           "UPDATE gen_wide SET w001 = 'changed' WHERE id = 1;",
           "DELETE FROM gen_wide WHERE id = 2;",
           "INSERT INTO gen_generated (id) VALUES (3);",
           "UPDATE gen_generated SET id = 30 WHERE id = 1;",
           "DELETE FROM gen_generated WHERE id = 2;",
           "TRUNCATE gen_composite;",
           "INSERT INTO gen_composite VALUES ('eu', 5, 1, 'after truncate');"]
    tables = "oracle.gen_composite,oracle.gen_nokey,oracle.GenMixed,oracle.gen_wide,oracle.gen_generated"
    write_case(f"{prefix}_gen_shapes", "\n".join(setup) + "\n", "\n".join(dml) + "\n", tables)

    setup = [head, "CREATE TABLE gen_ddl (id int PRIMARY KEY, a varchar(10), b int, m enum('sad','ok')) DEFAULT CHARSET=utf8mb4;",
             "INSERT INTO gen_ddl VALUES (1, 'x', 1, 'ok'), (2, 'y', 2, 'sad');"]
    dml = [head, "INSERT INTO gen_ddl VALUES (3, 'z', 3, 'ok');",
           "ALTER TABLE gen_ddl ADD COLUMN c decimal(6,2) NOT NULL DEFAULT 1.25;",
           "INSERT INTO gen_ddl VALUES (4, 'w', 4, 'ok', 2.5);",
           "UPDATE gen_ddl SET a = 'x2' WHERE id = 1;",
           "ALTER TABLE gen_ddl MODIFY b int NOT NULL;",
           "INSERT INTO gen_ddl VALUES (5, 'v', 5, 'sad', 3);",
           "ALTER TABLE gen_ddl CHANGE COLUMN a a2 varchar(20);",
           "UPDATE gen_ddl SET a2 = 'x3' WHERE id = 1;",
           "ALTER TABLE gen_ddl MODIFY m enum('sad','ok','happy');",
           "INSERT INTO gen_ddl VALUES (6, 'u', 6, 'happy', 4);",
           "ALTER TABLE gen_ddl ADD COLUMN first_col int FIRST, ADD COLUMN mid varchar(5) DEFAULT 'm' AFTER b;",
           "INSERT INTO gen_ddl (id, a2, b, m, c) VALUES (7, 't', 7, 'ok', 5);",
           "ALTER TABLE gen_ddl DROP COLUMN c;",
           "INSERT INTO gen_ddl (id, a2, b, m) VALUES (8, 's', 8, 'ok');",
           "DELETE FROM gen_ddl WHERE id = 2;"]
    write_case(f"{prefix}_gen_ddl", "\n".join(setup) + "\n", "\n".join(dml) + "\n", "oracle.gen_ddl")


if __name__ == "__main__":
    pg()
    my("maria")
    my("mysql8")
