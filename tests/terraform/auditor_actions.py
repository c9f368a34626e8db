#!/usr/bin/python3
"""The IAM actions the tfattest Terraform module grants its auditors.

Reads the module as @cdktf/hcl2json parses it (tests/terraform/hcl2json.js) and
prints, as a JSON list, every action of every Allow statement, static or
dynamic, of every aws_iam_policy_document whose principals are
var.auditor_principal_arns. Tests give an auditor identity exactly these
actions in the AWS test doubles, so that a test fails when the module grants
less than an auditor's command needs.

Usage: auditor_actions.py PARSED.json
"""
import json
import sys


def statements(doc):
    for st in doc.get("statement", []):
        yield st
    dyns = doc.get("dynamic", [])
    for dyn in dyns if isinstance(dyns, list) else [dyns]:
        for st in dyn.get("statement", []):
            for content in st.get("content", []):
                yield content


def main():
    parsed = json.load(open(sys.argv[1]))
    actions = set()
    for rel, tf in parsed.items():
        if "/" in rel:  # the module's own files, not examples/
            continue
        for name, blocks in tf.get("data", {}).get("aws_iam_policy_document", {}).items():
            for doc in blocks:
                for st in statements(doc):
                    if st.get("effect", "Allow") != "Allow":
                        continue
                    ids = [p.get("identifiers") for p in st.get("principals", [])]
                    if any("var.auditor_principal_arns" in json.dumps(i) for i in ids):
                        actions.update(st.get("actions", []))
    if not actions:
        sys.exit("auditor_actions.py: the module grants its auditors nothing")
    print(json.dumps(sorted(actions)))


if __name__ == "__main__":
    main()
