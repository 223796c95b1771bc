#!/usr/bin/env python3
"""Decode sluice's Avro topics with confluent-kafka's AvroDeserializer (a client sluice did
not write) and compare every record with the JSON record sluice wrote for the same change
(with schemas, so the Connect schema says how each JSON value maps to Avro).

  compare.py '{"bootstrap": "...", "registry": "http://...", "auth": "user:password" (optional),
               "pairs": [["json topic", "avro topic"], ...]}'

Each pair is compared record by record in partition order: keys fully, values field by field
except the fields that differ between two connectors by nature (`source`, `ts_ms`, `ts_us`,
`ts_ns`). Every record is decoded twice: with Avro logical types (must not fail) and without
them (raw values, compared exactly). Prints a JSON report; exits 1 on any difference."""
import base64
import json
import math
import re
import struct
import sys
import uuid

import fastavro.read
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

VOLATILE = {"source", "ts_ms", "ts_us", "ts_ns"}


def read_topic(bootstrap, topic):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "compare-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        # The broker holds a fetch at a partition's end this long (default 500 ms).
        "fetch.wait.max.ms": 5,
    })
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions) if topic in md.topics else []
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    done, out = set(), []
    while len(done) < len(parts):
        m = c.poll(10)
        if m is None:
            break
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            raise RuntimeError(str(m.error()))
        out.append((m.partition(), m.offset(), m.key(), m.value()))
    c.close()
    out.sort()
    return out


def avro_name(n):
    n = re.sub(r"[^A-Za-z0-9_]", "_", n)
    return "_" + n if not n or n[0].isdigit() else n


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def number(v):
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return float(v)


def normalize(schema, v):
    """A JSON payload value in the form Avro decodes it to without logical types."""
    if v is None or schema is None:
        return v
    t = schema["type"]
    if t == "struct":
        return {avro_name(f["field"]): normalize(f, v.get(f["field"])) for f in schema["fields"]}
    if t == "array":
        # A nested list under a one-dimensional schema (PostgreSQL multi-dimensional arrays):
        # sluice's JSON keeps it, its Avro writes null there, as Debezium does.
        flat = schema["items"]["type"] not in ("array", "map")
        return [None if flat and isinstance(x, list) else normalize(schema["items"], x) for x in v]
    if t == "map":
        if schema["keys"]["type"] == "string" and not schema["keys"].get("optional"):
            return {k: normalize(schema["values"], x) for k, x in v.items()}
        return [{"key": normalize(schema["keys"], k), "value": normalize(schema["values"], x)}
                for k, x in v]
    if t == "bytes":
        return base64.b64decode(v)
    if t in ("float", "float32"):
        return f32(number(v))
    if t in ("double", "float64"):
        return number(v)
    return v


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def show(v):
    if isinstance(v, bytes):
        return "b64:" + base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {k: show(x) for k, x in v.items()}
    if isinstance(v, list):
        return [show(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def decode(deser, topic, field, data):
    if data is None:
        return None
    if data[:1] != b"\x00":
        # A JSON part beside an Avro one (key_format: json): its payload, as Avro would read.
        j = json.loads(data)
        return normalize(j.get("schema"), j.get("payload")) if isinstance(j, dict) else j
    return deser(data, SerializationContext(topic, field))


def main():
    args = json.loads(sys.argv[1])
    conf = {"url": args["registry"]}
    if args.get("auth"):
        conf["basic.auth.user.info"] = args["auth"]
    client = SchemaRegistryClient(conf)
    deser = AvroDeserializer(client)
    report = {"pairs": [], "differences": []}
    logical = dict(fastavro.read.LOGICAL_READERS)
    for json_topic, avro_topic in args["pairs"]:
        js = read_topic(args["bootstrap"], json_topic)
        av = read_topic(args["bootstrap"], avro_topic)
        entry = {"json": json_topic, "avro": avro_topic, "records": len(av)}
        report["pairs"].append(entry)
        if len(js) != len(av):
            report["differences"].append(
                {"topic": avro_topic, "what": f"{len(av)} Avro records, {len(js)} JSON records"})
            continue
        for i, ((_, _, jk, jv), (_, _, ak, avv)) in enumerate(zip(js, av)):
            where = f"{avro_topic} record {i}"
            try:
                fastavro.read.LOGICAL_READERS.update(logical)
                decode(deser, avro_topic, MessageField.KEY, ak)
                decode(deser, avro_topic, MessageField.VALUE, avv)
                fastavro.read.LOGICAL_READERS.clear()
                key = decode(deser, avro_topic, MessageField.KEY, ak)
                value = decode(deser, avro_topic, MessageField.VALUE, avv)
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                report["differences"].append({"at": where, "decode error": repr(e)})
                continue
            finally:
                fastavro.read.LOGICAL_READERS.update(logical)
            jkey = json.loads(jk) if jk else None
            jval = json.loads(jv) if jv else None
            want_key = normalize(jkey["schema"], jkey["payload"]) if jkey and jkey.get("schema") else None
            if not same(key, want_key):
                report["differences"].append({"at": where, "key": show(key), "json key": show(want_key)})
            if jval is None or value is None:
                if (jval is None) != (value is None):
                    report["differences"].append({"at": where, "value": show(value), "json": show(jval)})
                continue
            want = normalize(jval["schema"], jval["payload"])
            for k in set(want) | set(value):
                if k in VOLATILE:
                    continue
                if not same(value.get(k), want.get(k)):
                    report["differences"].append(
                        {"at": where, "field": k, "avro": show(value.get(k)), "json": show(want.get(k))})
    print(json.dumps(report))
    sys.exit(1 if report["differences"] else 0)


if __name__ == "__main__":
    main()
