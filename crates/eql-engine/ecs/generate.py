#!/usr/bin/env python3
"""Writes the Elasticsearch mapping of the ECS fields that a set of EQL rules read.

    python3 generate.py ECS_MAPPING RULES... > mapping.json

ECS_MAPPING is one of ECS's generated Elasticsearch files
(https://github.com/elastic/ecs, Apache-2.0): `generated/elasticsearch/legacy/template.json`,
`generated/elasticsearch/composable/template.json`'s component folder
`generated/elasticsearch/composable/component/`, or any JSON holding
`{"mappings": {"properties": ...}}` or `{"template": {"mappings": ...}}`.

RULES are detection-rules TOML files, `.jsonl` files of `{"query": ...}` objects, `.eql` files, or
folders of those (searched recursively). Each query's text is scanned for field names (string
literals and comments removed); those that are ECS fields, the implicit `@timestamp` and
`event.category`, and each rule's `timestamp_override`, `event_category_override` and
`tiebreaker_field` are kept, with every parent object and each kept field's multi-fields. A name
that is a multi-field (`process.name.text`) keeps its parent field. The output is the mapping
with only those fields, keys sorted, and an `_meta` naming the ECS version and this script.

Only the Python standard library is used (3.11+, for tomllib).
"""

import json
import pathlib
import re
import sys
import tomllib

IMPLICIT = ["@timestamp", "event.category"]

STRING = re.compile(r'"""(?:.|\n)*?"""|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
COMMENT = re.compile(r"//[^\n]*|/\*(?:.|\n)*?\*/")
NAME = re.compile(r"`[^`]+`(?:\.(?:`[^`]+`|[@\w]+))*|[@A-Za-z_][@\w]*(?:\.(?:`[^`]+`|[@\w]+))*")


def load_ecs(path):
    """The `properties` of ECS's mapping (several component files merged)."""
    p = pathlib.Path(path)
    files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    props = {}
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        mappings = doc.get("mappings") or doc.get("template", {}).get("mappings") or doc
        merge(props, mappings.get("properties", {}))
    if not props:
        sys.exit(f"{path}: no `properties` found: not an ECS mapping")
    version = None
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        meta = doc.get("_meta") or doc.get("mappings", {}).get("_meta") or {}
        version = version or meta.get("version") or meta.get("ecs_version")
    return props, version


def merge(into, props):
    for name, definition in props.items():
        if name in into and "properties" in definition and "properties" in into[name]:
            merge(into[name]["properties"], definition["properties"])
        else:
            into[name] = definition


def queries(paths):
    """(query, [extra field names]) of every rule under `paths`."""
    out = []
    for root in paths:
        root = pathlib.Path(root)
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.suffix == ".toml":
                rule = tomllib.loads(f.read_text(encoding="utf-8")).get("rule", {})
                if "query" in rule and rule.get("language", "eql") == "eql":
                    extra = [rule[k] for k in ("timestamp_override", "event_category_override",
                                                "tiebreaker_field") if k in rule]
                    out.append((rule["query"], extra))
            elif f.suffix in (".jsonl", ".ndjson"):
                for line in f.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        obj = json.loads(line)
                        if "query" in obj:
                            out.append((obj["query"], []))
            elif f.suffix == ".eql":
                out.append((f.read_text(encoding="utf-8"), []))
    return out


def names(query):
    """Dotted names written in a query (backticks removed)."""
    text = COMMENT.sub(" ", STRING.sub(" ", query))
    for m in NAME.finditer(text):
        yield m.group(0).replace("`", "")


def lookup(props, name):
    """The ECS path [(key, definition), ...] of `name`, or None. A multi-field
    resolves to its parent field."""
    parts = name.split(".")
    path, level = [], props
    for i, part in enumerate(parts):
        if level is None or part not in level:
            if path and ".".join(parts[i:]) in path[-1][1].get("fields", {}):
                return path
            return None
        definition = level[part]
        path.append((part, definition))
        level = definition.get("properties")
    return path


def keep(out, path):
    level = out
    for n, (key, definition) in enumerate(path):
        if n + 1 < len(path):
            node = level.setdefault(key, {k: v for k, v in definition.items() if k != "properties"})
            level = node.setdefault("properties", {})
        else:
            level[key] = definition


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    props, version = load_ecs(argv[1])
    wanted = set(IMPLICIT)
    for query, extra in queries(argv[2:]):
        wanted.update(names(query))
        wanted.update(extra)
    out = {}
    kept = []
    for name in sorted(wanted):
        path = lookup(props, name)
        if path is not None and "properties" not in path[-1][1]:
            keep(out, path)
            kept.append(name)
    mapping = {
        "mappings": {
            "_meta": {
                "ecs_version": version,
                "source": "Elastic Common Schema (https://github.com/elastic/ecs), Apache-2.0",
                "generated_by": "crates/eql-engine/ecs/generate.py",
                "fields": kept,
            },
            "properties": out,
        }
    }
    json.dump(mapping, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
