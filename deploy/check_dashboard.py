#!/usr/bin/env python3
"""Checks the Grafana dashboard's structure and that every metric its panels query is one allot
exports: the names in crates/server/src/metrics.rs (counters get `_total`, histograms
`_bucket`/`_sum`/`_count`), plus Prometheus' own `up`. Usage: check_dashboard.py DASHBOARD METRICS_RS"""
import json
import re
import sys

dashboard_path, metrics_path = sys.argv[1], sys.argv[2]
with open(dashboard_path) as f:
    dashboard = json.load(f)
source = open(metrics_path).read()

# Every family registered in metrics.rs, with the type of the metric registered under it.
registered = re.findall(r'r\.register\(\s*"([a-z_]+)",\s*"[^"]*",\s*m\.([a-z_]+)\.clone\(\)', source)
fields = dict(re.findall(r'^\s{4}([a-z_]+): ([A-Za-z0-9<>, ]+),$', source, re.M))
known = {"up"}
for name, field in registered:
    kind = fields.get(field, "")
    if "Counter" in kind:
        known.add(name + "_total")
    elif "Histogram" in kind:
        known.update({name + "_bucket", name + "_sum", name + "_count"})
    else:
        known.add(name)
if len(registered) < 20:
    sys.exit(f"found only {len(registered)} registered families in {metrics_path}")

errors = []
for key in ("title", "uid", "panels", "schemaVersion"):
    if key not in dashboard:
        errors.append(f"dashboard has no {key!r}")
ids = set()
functions = {"sum", "rate", "increase", "histogram_quantile", "max", "by", "le", "label_values"}
for panel in dashboard.get("panels", []):
    title = panel.get("title", "?")
    for key in ("id", "type", "title", "gridPos", "targets"):
        if key not in panel:
            errors.append(f"panel {title!r} has no {key!r}")
    if panel.get("id") in ids:
        errors.append(f"panel id {panel.get('id')} is used twice")
    ids.add(panel.get("id"))
    for target in panel.get("targets", []):
        expr = target.get("expr", "")
        # Metric names: identifiers followed by a selector or a range, outside label matchers.
        bare = re.sub(r'\{[^}]*\}', "{}", expr)
        bare = re.sub(r'\[[^\]]*\]', "[]", bare)
        bare = re.sub(r'by \([^)]*\)', "", bare)
        names = set(re.findall(r'\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\))', bare)) - functions
        if not names:
            errors.append(f"panel {title!r}: no metric in {expr!r}")
        for name in names:
            if name not in known:
                errors.append(f"panel {title!r}: {name} is not a metric allot exports")
if errors:
    sys.exit("\n".join(errors))
print(f"{dashboard_path}: {len(dashboard['panels'])} panels, every metric known")
