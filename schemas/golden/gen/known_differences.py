#!/usr/bin/env python3
"""Write a case's differences.json for the documented differences that show in its records:

    python3 schemas/golden/gen/known_differences.py CASE DUMP_DIR

DUMP_DIR holds sluice's output (`SLUICE_CASES_DUMP=DUMP_DIR cargo test --test it cases::CASE`,
run once without a differences.json). A field joins the file only if it is one of the known
classes below; anything else is printed and the file is not written (fix sluice, or add the
class here with its reason and to the README's table)."""
import json
import sys

NULL_DEFAULT = ("NULL in a nullable column with a literal DEFAULT (and the unsent non-key columns "
                "of a DEFAULT-identity delete's before image): Debezium's JsonConverter writes the "
                "default (replace.null.with.default), sluice writes null, the stored value")
ARRAYS = {
    "c_time": "time[]: Debezium truncates each element to milliseconds and writes 24:00:00 as 0; "
              "sluice keeps the microseconds and writes 24:00:00 as 86400000000, as for a time column",
    "c_timetz": "timetz[]: Debezium drops each element's fraction of a second; sluice keeps it, as "
                "for a timetz column",
    "c_ts": "timestamp[] before 1582: Debezium shifts the value by the Julian calendar of "
            "java.sql.Timestamp (0001-01-01 becomes 0000-12-30); sluice writes the proleptic "
            "Gregorian value, as for a timestamp column",
}


def main(case, dump):
    base = f"schemas/golden/cases/{case}"
    gold = [json.loads(l) for l in open(f"{base}/debezium.schemas-true.jsonl")]
    ours = [json.loads(l) for l in open(f"{dump}/{case}.schemas-true.jsonl")]
    extra = set()
    try:
        extra = set(json.load(open(f"{base}/extra_columns.json"))["columns"])
    except FileNotFoundError:
        pass
    by_topic, ours_t = {}, {}
    for r in gold:
        by_topic.setdefault(r["topic"], []).append(r)
    for r in ours:
        ours_t.setdefault(r["topic"], []).append(r)
    diffs, unknown = [], []
    for t, recs in by_topic.items():
        for i, (g, o) in enumerate(zip(recs, ours_t.get(t, []))):
            if g["value"] is None or o["value"] is None:
                continue
            fields = {f["field"]: f for f in g["value"]["schema"]["fields"]}
            for img in ("before", "after"):
                gi, oi = g["value"]["payload"].get(img), o["value"]["payload"].get(img)
                if not gi or not oi:
                    continue
                schema = {f["field"]: f for f in fields[img]["fields"]}
                for c, gv in gi.items():
                    ov = oi.get(c)
                    if c in extra or gv == ov:
                        continue
                    f = schema.get(c, {})
                    if ov is None and f.get("optional") and "default" in f and gv == f["default"]:
                        why = NULL_DEFAULT
                    elif c in ARRAYS:
                        why = ARRAYS[c]
                    else:
                        unknown.append(f"{t} record {i} {img}.{c}: Debezium {gv}, sluice {ov}")
                        continue
                    diffs.append({"topic": t, "index": i, "path": f"{img}.{c}", "sluice": ov, "why": why})
    if unknown:
        print("\n".join(unknown))
        sys.exit(1)
    with open(f"{base}/differences.json", "w") as out:
        json.dump(diffs, out, indent=1, ensure_ascii=False)
        out.write("\n")
    print(f"{case}: {len(diffs)} documented differences")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
