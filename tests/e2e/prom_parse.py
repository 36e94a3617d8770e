"""Parses a Prometheus text exposition (0.0.4) with prometheus_client's own parser and
prints it as JSON for the shell tests: {"families": {name: {"type", "help"}}, "samples":
[{"name", "labels", "value"}], "errors": [...]}. errors lists what the format forbids that
the parser lets through: a histogram whose buckets are not cumulative, whose +Inf bucket is
missing or differs from _count, a family without HELP. Exits 1 when the text does not
parse.

    /usr/bin/python3 prom_parse.py FILE
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def finite(v):
    return v if math.isfinite(v) else str(v)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    families, samples, errors = {}, [], []
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's ValueError and friends
        print(f"prom_parse: {sys.argv[1]} does not parse: {e}", file=sys.stderr)
        return 1
    for f in parsed:
        if f.name in families:
            errors.append(f"family {f.name} appears twice")
        families[f.name] = {"type": f.type, "help": f.documentation}
        if not f.documentation:
            errors.append(f"family {f.name} has no HELP")
        for s in f.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": finite(s.value)})
        if f.type != "histogram":
            continue
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            h = series.setdefault(key, {"buckets": [], "count": None})
            if s.name.endswith("_bucket"):
                h["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                h["count"] = s.value
        for key, h in series.items():
            b = h["buckets"]
            if [le for le, _ in b] != sorted(le for le, _ in b):
                errors.append(f"{f.name}{dict(key)}: buckets not in order of le")
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                errors.append(f"{f.name}{dict(key)}: buckets not cumulative")
            if not b or b[-1][0] != math.inf:
                errors.append(f"{f.name}{dict(key)}: no +Inf bucket")
            elif b[-1][1] != h["count"]:
                errors.append(f"{f.name}{dict(key)}: +Inf bucket {b[-1][1]} != count {h['count']}")
    print(json.dumps({"families": families, "samples": samples, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
