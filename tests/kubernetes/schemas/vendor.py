#!/usr/bin/env python3
"""Rebuilds the vendored schemas of this directory (see README.md).

usage: vendor.py KUBERNETES_JSON_SCHEMA_DIR CRD_YAML...

KUBERNETES_JSON_SCHEMA_DIR is a `vX.Y.Z-local-strict` directory of the `kubernetes-validate`
wheel. Each kind flashc emits becomes one self-contained JSON Schema (its `$ref`s into
`_definitions.json` rewritten to the `$defs` it reaches, copied in). Each CRD's served storage
version's `openAPIV3Schema` is written as it is, as JSON; the test makes it strict.
"""
import json, os, sys

import yaml

KINDS = [
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "persistentvolumeclaim-v1",
    "poddisruptionbudget-policy-v1",
    "service-v1",
    "serviceaccount-v1",
]
PREFIX = "/api/_definitions.json#/$defs/"
LOCAL = "#/$defs/"
here = os.path.dirname(os.path.abspath(__file__))


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX):
                out.add(v[len(PREFIX):])
            elif k == "$ref" and isinstance(v, str) and v.startswith(LOCAL):
                out.add(v[len(LOCAL):])
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def rewrite(node):
    if isinstance(node, dict):
        return {k: ("#/$defs/" + v[len(PREFIX):] if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX) else rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    return node


def main():
    src, crds = sys.argv[1], sys.argv[2:]
    version = os.path.basename(os.path.normpath(src))
    defs = json.load(open(os.path.join(src, "_definitions.json")))["$defs"]
    out_dir = os.path.join(here, version)
    os.makedirs(out_dir, exist_ok=True)
    for kind in KINDS:
        schema = json.load(open(os.path.join(src, kind + ".json")))
        reached, todo = set(), set()
        refs(schema, todo)
        while todo:
            name = todo.pop()
            if name in reached:
                continue
            reached.add(name)
            refs(defs[name], todo)
        schema = rewrite(schema)
        schema.pop("$id", None)
        schema["$defs"] = {name: rewrite(defs[name]) for name in sorted(reached)}
        with open(os.path.join(out_dir, kind + ".json"), "w") as f:
            json.dump(schema, f, indent=1, sort_keys=True)
            f.write("\n")
    for path in crds:
        crd = yaml.safe_load(open(path))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if v.get("served") and v.get("storage"):
                name = f"{kind.lower()}-{group}-{v['name']}.json"
                with open(os.path.join(here, "crd", name), "w") as f:
                    json.dump(v["schema"]["openAPIV3Schema"], f, indent=1, sort_keys=True)
                    f.write("\n")


main()
