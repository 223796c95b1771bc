#!/usr/bin/env python3
"""Writes the crafted inputs of issue 15 (each once made a decoder panic, abort, stall or
bloat) into binlog_file/ and sink_record/. They seed the fuzzers and run in the normal test
suite (tests/it/hostile.rs). Run from this directory: python3 make.py"""
import json
import os
import struct
import zlib

FIXTURE = open("../../bench/fixtures/mariadb-10.11-rows.binlog", "rb").read()
FDE_LEN = struct.unpack("<I", FIXTURE[4 + 9 : 4 + 13])[0]
HEAD = FIXTURE[: 4 + FDE_LEN]  # magic + checksummed format description


def event(ty, body, checksum=True, crc=True):
    size = 19 + len(body) + (4 if checksum else 0)
    e = struct.pack("<IBIIIH", 0, ty, 1, size, 0, 0) + body
    if checksum:
        e += struct.pack("<I", zlib.crc32(e) if crc else 0)
    return e


def lenenc_str(s):
    return bytes([len(s)]) + s


def table_map(optional):
    b = struct.pack("<Q", 1)[:6] + b"\x00\x00"
    b += lenenc_str(b"db") + b"\x00" + lenenc_str(b"t") + b"\x00"
    b += bytes([1, 254, 2, 247, 1, 0])  # one ENUM column, metadata, null bitmap
    b += bytes([4, 2, 1]) + b"e"  # COLUMN_NAME
    return b + optional


def write(dirname, name, data):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


B = "binlog_file"
write(B, "short-event-after-checksummed-fde", HEAD + event(2, b"\x00", checksum=False))
gtids = struct.pack("<Q", (1 << 56) - 1) + bytes(16)
write(B, "previous-gtids-2e56-entries", HEAD + event(0x23, gtids))
gtids = struct.pack("<Q", 1) + bytes(16) + struct.pack("<Q", (1 << 63) - 1)
write(B, "previous-gtids-huge-intervals", HEAD + event(0x23, gtids))
write(B, "transaction-payload-unknown-compression", HEAD + event(0x28, bytes([2, 1, 9, 0])))
write(B, "transaction-payload-field-past-end", HEAD + event(0x28, bytes([1, 200, 0])))
write(B, "transaction-payload-length-past-end", HEAD + event(0x28, bytes([3, 0xfe]) + bytes(8)))
claim = b"\xfe" + struct.pack("<Q", 1 << 36) + b"\x01a"
enum = bytes([6, len(claim)]) + claim
write(B, "table-map-2e36-enum-labels", HEAD + event(19, table_map(enum)))
claim = b"\xfe" + struct.pack("<Q", 1 << 36) + b"\x01a"
sets = bytes([5, len(claim)]) + claim
write(B, "table-map-2e36-set-labels", HEAD + event(19, table_map(sets)))



def varlen(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


# Issue 22: a MySQL binary JSON array whose 10,000 entries all point (by offset) at one
# 100 kB string: a 150 kB rows event that converts to 1 GB of text.
ENTRIES, LEN = 10000, 100000
header = 8 + 5 * ENTRIES
string = varlen(LEN) + b"x" * LEN
jsonb = b"\x03" + struct.pack("<II", ENTRIES, header + len(string))
jsonb += (b"\x0c" + struct.pack("<I", header)) * ENTRIES + string
json_map = struct.pack("<Q", 1)[:6] + b"\x00\x00" + lenenc_str(b"db") + b"\x00" + lenenc_str(b"t") + b"\x00"
json_map += bytes([1, 245, 1, 4, 1]) + bytes([4, 2, 1]) + b"j"  # one nullable JSON column
rows = struct.pack("<Q", 1)[:6] + b"\x00\x00" + bytes([1, 1, 0]) + struct.pack("<I", len(jsonb)) + jsonb
write(B, "json-10000-entries-share-one-string", HEAD + event(19, json_map) + event(23, rows))


def record(key, value):
    k = json.dumps(key, separators=(",", ":")).encode()
    v = json.dumps(value, separators=(",", ":")).encode() if value is not None else b""
    return struct.pack("<H", len(k)) + k + v


def envelope(field_schema, value):
    return {
        "schema": {
            "type": "struct",
            "fields": [
                {"type": "struct", "optional": True, "field": "after",
                 "fields": [{"type": "int32", "optional": False, "field": "id"}, field_schema]},
                {"type": "string", "optional": False, "field": "op"},
            ],
        },
        "payload": {"op": "c", "after": {"id": 1, "v": value}},
    }


KEY = {"schema": {"type": "struct", "fields": [{"type": "int32", "field": "id"}]}, "payload": {"id": 1}}
S = "sink_record"
dec = lambda scale: {"type": "bytes", "optional": True, "field": "v",
                     "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": scale}}
# Big Decimals (base64): the old conversion was quadratic (63 s for 100 KB of text). 60000
# bytes convert (in linear time); beyond 64 KiB no database stores one: a poison record.
import base64
write(S, "decimal-60000-bytes", record(KEY, envelope(dec("2"), base64.b64encode(b"\x7f" + b"\xff" * 59999).decode())))
write(S, "decimal-75000-bytes", record(KEY, envelope(dec("2"), base64.b64encode(b"\x7f" + b"\xff" * 74999).decode())))
write(S, "decimal-scale-2e32", record(KEY, envelope(dec("4294967295"), "AQ==")))
vsd = {"type": "struct", "optional": True, "field": "v", "name": "io.debezium.data.VariableScaleDecimal",
       "fields": [{"type": "int32", "field": "scale"}, {"type": "bytes", "field": "value"}]}
write(S, "variable-scale-2e32-plus-2", record(KEY, envelope(vsd, {"scale": (1 << 32) + 2, "value": "AQ=="})))
for name, sem in [("time", "io.debezium.time.MicroTime"), ("timestamp", "io.debezium.time.MicroTimestamp"),
                  ("nanotimestamp", "io.debezium.time.NanoTimestamp"), ("date", "io.debezium.time.Date")]:
    ty = "int32" if name == "date" else "int64"
    big = (1 << 31) - 1 if name == "date" else (1 << 63) - 1
    schema = {"type": ty, "optional": True, "field": "v", "name": sem}
    write(S, f"{name}-max", record(KEY, envelope(schema, big)))
    write(S, f"{name}-min", record(KEY, envelope(schema, -big - 1)))
write(S, "time-negative-838h", record(KEY, envelope(
    {"type": "int64", "optional": True, "field": "v", "name": "io.debezium.time.MicroTime"}, -3020399000000)))
nested = "[" * 100000 + "]" * 100000
write(S, "json-nested-100k", struct.pack("<H", 2) + b"{}" + nested.encode())
