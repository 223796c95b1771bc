#!/usr/bin/env python3
"""A Confluent-compatible Schema Registry subset for sluice's tests (no real registry can be
run on this machine: see README "Tests"). It keeps schemas in memory and answers the calls a
producer and confluent-kafka's AvroDeserializer make:

  POST /subjects/{subject}/versions     register (same schema: same id), BACKWARD-checked
  POST /subjects/{subject}              look a schema up
  GET  /subjects, /subjects/{s}/versions, /subjects/{s}/versions/{n|latest}
  GET  /schemas/ids/{id}[?subject=…]    the schema by id
  GET|PUT /config, /config/{subject}    compatibility: BACKWARD (default) or NONE
  POST /test/outage?seconds=N           answer 503 to everything for N seconds (tests)

Optional basic auth: --user U --password P; the global level: --compatibility NONE.
Run: registry.py --port N
"""
import argparse
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse, parse_qs

LOCK = threading.Lock()
SCHEMAS = {}  # id -> canonical schema text
IDS = {}  # canonical schema text -> id
SUBJECTS = {}  # subject -> [id, ...] (versions in order)
CONFIG = {"": "BACKWARD"}
OUTAGE_UNTIL = [0.0]
AUTH = [None]
CT = "application/vnd.schemaregistry.v1+json"

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
              ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string")}


def canonical(text):
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def named(schema, names, ns=None):
    """Resolve named types: returns the schema with references replaced by definitions."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        full = schema if "." in schema or ns is None else ns + "." + schema
        return names.get(full, names.get(schema, schema))
    if isinstance(schema, list):
        return [named(s, names, ns) for s in schema]
    t = schema.get("type")
    if t in ("record", "enum", "fixed"):
        space = schema.get("namespace", ns)
        full = schema["name"] if "." in schema["name"] or not space else space + "." + schema["name"]
        names[full] = schema
        names[schema["name"]] = schema
        if t == "record":
            for f in schema["fields"]:
                f["type"] = named(f["type"], names, space)
        return schema
    if t == "array":
        schema["items"] = named(schema["items"], names, ns)
    if t == "map":
        schema["values"] = named(schema["values"], names, ns)
    return schema


def kind(s):
    if isinstance(s, str):
        return s
    if isinstance(s, list):
        return "union"
    return s["type"] if isinstance(s["type"], str) else kind(s["type"])


def can_read(reader, writer, seen=None, path="(root)"):
    """Avro schema resolution: None when data written with `writer` can be read with
    `reader`, else where and why not."""
    seen = seen if seen is not None else set()
    rk, wk = kind(reader), kind(writer)
    if wk == "union":
        for w in writer:
            why = can_read(reader, w, seen, path)
            if why:
                return why
        return None
    if rk == "union":
        whys = [can_read(r, writer, seen, path) for r in reader]
        return None if any(w is None for w in whys) else whys[-1]
    if rk != wk:
        return None if (wk, rk) in PROMOTIONS else f"{path}: {wk} cannot be read as {rk}"
    if rk == "record":
        key = (id(reader), id(writer))
        if key in seen:
            return None
        seen.add(key)
        wf = {f["name"]: f for f in writer["fields"]}
        for f in reader["fields"]:
            p = f"{path}.{f['name']}"
            if f["name"] in wf:
                why = can_read(f["type"], wf[f["name"]]["type"], seen, p)
                if why:
                    return why
            elif "default" not in f:
                return f"{p}: a new field without a default"
        return None
    if rk == "array":
        return can_read(reader["items"], writer["items"], seen, path + "[]")
    if rk == "map":
        return can_read(reader["values"], writer["values"], seen, path + "{}")
    if rk == "enum":
        ok = set(writer["symbols"]) <= set(reader["symbols"]) or "default" in reader
        return None if ok else f"{path}: enum symbols removed"
    if rk == "fixed":
        return None if reader["size"] == writer["size"] else f"{path}: fixed size changed"
    return None


def incompatibility(new_text, old_text):
    new = named(json.loads(new_text), {})
    old = named(json.loads(old_text), {})
    return can_read(new, old)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, error_code, message):
        self.reply(code, {"error_code": error_code, "message": message})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def guard(self):
        if time.time() < OUTAGE_UNTIL[0] and not self.path.startswith("/test/"):
            self.error(503, 50003, "registry unavailable (test outage)")
            return False
        if AUTH[0] is not None:
            want = "Basic " + base64.b64encode(AUTH[0].encode()).decode()
            if self.headers.get("Authorization") != want:
                self.error(401, 40101, "Unauthorized")
                return False
        return True

    def do_GET(self):
        if not self.guard():
            return
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        with LOCK:
            if parts == ["subjects"]:
                return self.reply(200, sorted(SUBJECTS))
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
                sid = int(parts[2])
                if sid not in SCHEMAS:
                    return self.error(404, 40403, f"Schema {sid} not found")
                return self.reply(200, {"schema": SCHEMAS[sid]})
            if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                if parts[1] not in SUBJECTS:
                    return self.error(404, 40401, f"Subject '{parts[1]}' not found.")
                return self.reply(200, list(range(1, len(SUBJECTS[parts[1]]) + 1)))
            if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
                versions = SUBJECTS.get(parts[1])
                if not versions:
                    return self.error(404, 40401, f"Subject '{parts[1]}' not found.")
                n = len(versions) if parts[3] == "latest" else int(parts[3])
                if not 1 <= n <= len(versions):
                    return self.error(404, 40402, f"Version {parts[3]} not found.")
                sid = versions[n - 1]
                return self.reply(200, {"subject": parts[1], "version": n, "id": sid,
                                        "schema": SCHEMAS[sid]})
            if parts[0] == "config":
                subject = parts[1] if len(parts) > 1 else ""
                level = CONFIG.get(subject, CONFIG[""])
                return self.reply(200, {"compatibilityLevel": level})
        self.error(404, 404, "Not found")

    def do_PUT(self):
        if not self.guard():
            return
        parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
        if parts[0] == "config":
            level = self.body().get("compatibility", "BACKWARD")
            with LOCK:
                CONFIG[parts[1] if len(parts) > 1 else ""] = level
            return self.reply(200, {"compatibility": level})
        self.error(404, 404, "Not found")

    def do_POST(self):
        url = urlparse(self.path)
        if url.path == "/test/outage":
            secs = float(parse_qs(url.query).get("seconds", ["10"])[0])
            OUTAGE_UNTIL[0] = time.time() + secs
            return self.reply(200, {"outage_seconds": secs})
        if not self.guard():
            return
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if not parts or parts[0] != "subjects" or len(parts) not in (2, 3):
            return self.error(404, 404, "Not found")
        subject = parts[1]
        req = self.body()
        if req.get("schemaType", "AVRO") != "AVRO":
            return self.error(422, 42201, "only AVRO schemas are supported here")
        try:
            text = canonical(req["schema"])
        except (KeyError, ValueError) as e:
            return self.error(422, 42201, f"Invalid schema: {e}")
        with LOCK:
            versions = SUBJECTS.setdefault(subject, []) if len(parts) == 3 else SUBJECTS.get(subject, [])
            if len(parts) == 2:  # lookup
                sid = IDS.get(text)
                if sid is None or sid not in versions:
                    return self.error(404, 40403, "Schema not found")
                return self.reply(200, {"subject": subject, "id": sid,
                                        "version": versions.index(sid) + 1, "schema": text})
            sid = IDS.get(text)
            if sid is not None and sid in versions:
                return self.reply(200, {"id": sid})
            level = CONFIG.get(subject, CONFIG[""])
            if versions and level.startswith("BACKWARD"):
                older = versions if level.endswith("TRANSITIVE") else versions[-1:]
                for old in older:
                    why = incompatibility(text, SCHEMAS[old])
                    if why:
                        return self.error(
                            409, 409,
                            f"Schema being registered is incompatible with an earlier schema for subject \"{subject}\" (BACKWARD): {why}")
            if sid is None:
                sid = len(SCHEMAS) + 1
                SCHEMAS[sid] = text
                IDS[text] = sid
            versions.append(sid)
            return self.reply(200, {"id": sid})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--compatibility", default="BACKWARD")
    a = ap.parse_args()
    CONFIG[""] = a.compatibility
    if a.user:
        AUTH[0] = f"{a.user}:{a.password or ''}"
    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
