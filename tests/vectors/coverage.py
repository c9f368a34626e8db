#!/usr/bin/python3
"""Holds the conformance vectors' index to the rules of docs/FORMAT.md.

    coverage.py [--format FORMAT.md] [--index index.json] [--exemptions FILE] [-v]

Reads the index of rules (FORMAT.md §10: id, section, layer, kind) and
index.json, and fails, naming them, when
  - a vector cites a rule id that §10 does not have, or has no `rules` list;
  - an invalid vector cites no rule, or a rule that is not of kind reject;
  - an invalid vector's layer is not a layer §10 gives for a rule it cites;
  - a valid vector has a layer;
  - a reject rule has no invalid vector citing it;
  - FORMAT.md states a rule (**R-...**) that §10 does not list, or the reverse;
unless coverage-exemptions.txt exempts that case with a reason; an exemption
that no longer applies fails too. Standard library only.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RULE_ID = re.compile(r"R-\d+(?:\.\d+)?-\d+")
# "by file": the layer of the file that breaks it (1 manifest and keys/, 3
# artifacts, 5 checkpoints); "1/3": 1 under keys/, 3 under artifacts/.
BY_FILE = {1, 3, 5}


def parse_layers(text):
    text = text.strip()
    if text == "by file":
        return set(BY_FILE)
    if text in ("—", "-", ""):
        return set()
    return {int(x) for x in text.split("/")}


def read_rules(path):
    """{id: (section, layers, kind)} from the §10 table, and the ids stated
    as **R-...** in the text before §10."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## 10\. Index of rules$", text, re.M)
    if not m:
        raise SystemExit("coverage.py: %s has no section \"## 10. Index of rules\"" % path)
    body, index = text[:m.start()], text[m.end():]
    rules = {}
    for line in index.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not RULE_ID.fullmatch(cells[0]):
            continue
        rid, section, layer, kind = cells[:4]
        if rid in rules:
            raise SystemExit("coverage.py: §10 lists %s twice" % rid)
        if kind not in ("reject", "accept", "output"):
            raise SystemExit("coverage.py: §10 gives %s the unknown kind %r" % (rid, kind))
        try:
            layers = parse_layers(layer)
        except ValueError:
            raise SystemExit("coverage.py: §10 gives %s the unknown layer %r" % (rid, layer))
        rules[rid] = (section, layers, kind)
    if not rules:
        raise SystemExit("coverage.py: no rules found in §10 of %s" % path)
    stated = set(re.findall(r"\*\*(R-\d+(?:\.\d+)?-\d+)\*\*", body))
    return rules, stated


def read_exemptions(path):
    """{("uncovered", rule) | ("layer", vector, rule) | ("unnumbered", vector): reason}"""
    ex = {}
    if not os.path.exists(path):
        return ex
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            head, sep, reason = line.partition(":")
            words = head.split()
            shape = {"uncovered": 2, "layer": 3, "unnumbered": 2}.get(words[0] if words else "")
            if not sep or not reason.strip() or shape != len(words):
                raise SystemExit("coverage.py: %s:%d: want `uncovered RULE: reason`, `layer VECTOR RULE: "
                                 "reason` or `unnumbered VECTOR: reason`" % (path, n))
            ex[tuple(words)] = reason.strip()
    return ex


def main(argv):
    fmt = os.path.join(HERE, "..", "..", "docs", "FORMAT.md")
    idx = os.path.join(HERE, "index.json")
    exf = os.path.join(HERE, "coverage-exemptions.txt")
    verbose = False
    i = 0
    while i < len(argv):
        if argv[i] in ("--format", "--index", "--exemptions") and i + 1 < len(argv):
            if argv[i] == "--format":
                fmt = argv[i + 1]
            elif argv[i] == "--index":
                idx = argv[i + 1]
            else:
                exf = argv[i + 1]
            i += 2
        elif argv[i] == "-v":
            verbose = True
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    rules, stated = read_rules(fmt)
    ex = read_exemptions(exf)
    with open(idx, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    errors = []
    used = set()

    for rid in sorted(stated - set(rules)):
        errors.append("FORMAT.md states %s, which §10 does not list" % rid)
    for rid in sorted(set(rules) - stated):
        errors.append("§10 lists %s, which FORMAT.md does not state" % rid)

    citing = {}
    names = {v["name"] for v in vectors}
    for v in vectors:
        name = v["name"]
        cited = v.get("rules")
        if not isinstance(cited, list):
            errors.append("%s: no `rules` list" % name)
            continue
        for rid in cited:
            if rid not in rules:
                errors.append("%s: cites %s, which FORMAT.md §10 does not have" % (name, rid))
                continue
            citing.setdefault(rid, []).append(v)
        if v["expect"] == "valid":
            if v.get("layer") is not None:
                errors.append("%s: a valid vector with a layer" % name)
            continue
        if not cited:
            key = ("unnumbered", name)
            if key in ex:
                used.add(key)
            else:
                errors.append("%s: an invalid vector that cites no rule" % name)
            continue
        for rid in cited:
            if rid not in rules:
                continue
            _, layers, kind = rules[rid]
            if kind != "reject":
                errors.append("%s: an invalid vector citing %s, a rule of kind %s" % (name, rid, kind))
            elif v.get("layer") not in layers:
                key = ("layer", name, rid)
                if key in ex:
                    used.add(key)
                else:
                    errors.append("%s: layer %s, but §10 gives %s layer %s" %
                                  (name, v.get("layer"), rid, "/".join(map(str, sorted(layers)))))

    covered = exempt = 0
    for rid, (_, _, kind) in rules.items():
        if kind != "reject":
            continue
        bad = [v["name"] for v in citing.get(rid, []) if v["expect"] == "invalid"]
        key = ("uncovered", rid)
        if bad:
            covered += 1
            if key in ex:
                errors.append("exemption `uncovered %s` no longer applies: %s cites it" % (rid, bad[0]))
                used.add(key)
        elif key in ex:
            exempt += 1
            used.add(key)
        else:
            errors.append("%s (reject, layer %s): no invalid vector cites it" %
                          (rid, "/".join(map(str, sorted(rules[rid][1])))))
        if verbose:
            print("%-9s %s" % (rid, ", ".join(bad) if bad else "exempt: " + ex.get(key, "NOT COVERED")))

    for key in sorted(set(ex) - used):
        what = " ".join(key)
        if key[0] == "uncovered" and key[1] not in rules:
            errors.append("exemption `%s`: no such rule in §10" % what)
        elif key[0] != "uncovered" and key[1] not in names:
            errors.append("exemption `%s`: no such vector" % what)
        else:
            errors.append("exemption `%s` no longer applies" % what)

    for e in errors:
        print("coverage.py: %s" % e)
    nrej = sum(1 for r in rules.values() if r[2] == "reject")
    print("coverage.py: %d rules in FORMAT.md §10, %d of kind reject: %d covered by invalid vectors, %d exempt; "
          "%d vectors; %s" % (len(rules), nrej, covered, exempt, len(vectors),
                              "%d problems" % len(errors) if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
