"""Checks a verifier command against index.json (see README.md; run through run.sh)."""

import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = {"manifest_signature": 1, "file_hashes": 2, "hash_chain": 3, "artifact_signatures": 4,
          "checkpoints": 5}
USAGE = """usage: run.sh [--tfattest BIN | 'CMD'] [--only NAME]... [--form dir|tar.gz|zip]...
              [--expect-fail-list FILE] [-v]

CMD is a shell command template; each vector runs it through `sh -c` with
these placeholders replaced (values shell-quoted; empty when the vector has
no such input):
  {bundle}           the bundle: a directory, a .tar.gz or a .zip
  {fingerprint}      the pinned anchor fingerprint (sha256:<64 hex>)
  {pin}              --expect-key-fingerprint <fingerprint>
  {checkpoints}      --checkpoint F for every trusted checkpoint file
  {checkpoint_files} the trusted checkpoint files, space-separated
  {tsa_ca}           --tsa-ca F (the test TSA's CA certificate)
  {tsa_ca_file}      the TSA CA file alone
  {require_genesis}  --require-genesis
  {require_chain_manifest}  --require-chain-manifest
  {opts}             {pin} {checkpoints} {tsa_ca} {require_genesis} {require_chain_manifest}
The same values are in the environment: VEC_NAME, VEC_BUNDLE, VEC_FORM,
VEC_FINGERPRINT, VEC_CHECKPOINTS (space-separated), VEC_TSA_CA,
VEC_REQUIRE_GENESIS and VEC_REQUIRE_CHAIN_MANIFEST (1 or empty).
Exit 0 means valid, 1 invalid; anything else is an error. With --tfattest
BIN (the template `BIN verify {bundle} {opts} --json`), or any template
containing --json, the failing layer is also read from the JSON output
(failure.layer) and compared with the index.
--expect-fail-list FILE: vectors named in FILE (one per line, # comments)
are expected to mismatch; they are reported as XFAIL and do not fail the
run, and one that passes is reported as XPASS (and fails the run).
"""


def main(argv):
    template = None
    only = []
    forms = []
    xfail = set()
    verbose = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--tfattest" and i + 1 < len(argv):
            template = shlex.quote(argv[i + 1]) + " verify {bundle} {opts} --json"
            i += 1
        elif a == "--form" and i + 1 < len(argv):
            forms.append(argv[i + 1])
            i += 1
        elif a == "--only" and i + 1 < len(argv):
            only.append(argv[i + 1])
            i += 1
        elif a == "--expect-fail-list" and i + 1 < len(argv):
            with open(argv[i + 1]) as f:
                xfail = {ln.split("#")[0].strip() for ln in f} - {""}
            i += 1
        elif a == "-v":
            verbose = True
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif template is None and not a.startswith("--"):
            template = a
        else:
            sys.stderr.write(USAGE)
            return 2
        i += 1
    if template is None:
        sys.stderr.write(USAGE)
        return 2
    use_json = "--json" in template
    with open(os.path.join(HERE, "index.json")) as f:
        vectors = json.load(f)["vectors"]
    unknown = (set(only) | xfail) - {v["name"] for v in vectors}
    if unknown:
        sys.stderr.write("run.sh: no such vector: %s\n" % ", ".join(sorted(unknown)))
        return 2
    passed = failed = xfailed = 0
    for v in vectors:
        if (only and v["name"] not in only) or (forms and v["form"] not in forms):
            continue
        inp = v["inputs"]
        path = lambda p: os.path.join(HERE, p)  # noqa: E731
        cks = [path(c) for c in inp.get("checkpoints", [])]
        fpr = inp.get("fingerprint", "")
        tsa = path(inp["tsa_ca"]) if "tsa_ca" in inp else ""
        vals = {
            "bundle": shlex.quote(path(v["bundle"])),
            "fingerprint": shlex.quote(fpr) if fpr else "",
            "pin": "--expect-key-fingerprint " + shlex.quote(fpr) if fpr else "",
            "checkpoints": " ".join("--checkpoint " + shlex.quote(c) for c in cks),
            "checkpoint_files": " ".join(shlex.quote(c) for c in cks),
            "tsa_ca": "--tsa-ca " + shlex.quote(tsa) if tsa else "",
            "tsa_ca_file": shlex.quote(tsa) if tsa else "",
            "require_genesis": "--require-genesis" if inp.get("require_genesis") else "",
            "require_chain_manifest": ("--require-chain-manifest" if inp.get("require_chain_manifest")
                                       else ""),
        }
        vals["opts"] = " ".join(x for x in (vals["pin"], vals["checkpoints"], vals["tsa_ca"],
                                             vals["require_genesis"], vals["require_chain_manifest"]) if x)
        cmd = template
        for k, val in vals.items():
            cmd = cmd.replace("{%s}" % k, val)
        env = dict(os.environ, VEC_NAME=v["name"], VEC_BUNDLE=path(v["bundle"]), VEC_FORM=v["form"],
                   VEC_FINGERPRINT=fpr, VEC_CHECKPOINTS=" ".join(cks), VEC_TSA_CA=tsa,
                   VEC_REQUIRE_GENESIS="1" if inp.get("require_genesis") else "",
                   VEC_REQUIRE_CHAIN_MANIFEST="1" if inp.get("require_chain_manifest") else "")
        try:
            p = subprocess.run(["sh", "-c", cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = -1, b"", b"timed out"
        want = "%s%s" % (v["expect"], " layer %d" % v["layer"] if v.get("layer") else "")
        got_verdict = {0: "valid", 1: "invalid"}.get(rc, "error (exit %d)" % rc)
        got = got_verdict
        ok = got_verdict == v["expect"]
        if ok and use_json and v["expect"] == "invalid":
            try:
                layer = LAYERS.get(json.loads(out.decode("utf-8"))["failure"]["layer"])
            except (ValueError, KeyError, TypeError):
                layer = None
            got += " layer %s" % layer
            ok = layer == v.get("layer")
        elif ok and v["expect"] == "invalid" and v.get("layer"):
            got += " layer %d" % v["layer"] if not use_json else ""
        if v["name"] in xfail:
            status = "XPASS" if ok else "XFAIL"
            if ok:
                failed += 1
            else:
                xfailed += 1
        else:
            status = "ok" if ok else "FAIL"
            if ok:
                passed += 1
            else:
                failed += 1
        line = "%-5s %-44s %-7s want %s, got %s" % (status, v["name"], v["form"], want, got)
        print(line, flush=True)
        if (verbose or status in ("FAIL", "XPASS")) and status != "ok":
            msg = err.decode("utf-8", "replace").strip().splitlines()
            if use_json and out:
                try:
                    msg = [json.loads(out.decode("utf-8")).get("failure", {}).get("message", "")] or msg
                except ValueError:
                    pass
            for m in [m for m in msg if m][:3]:
                print("      %s" % m)
    summary = "%d passed, %d failed" % (passed, failed)
    if xfailed:
        summary += ", %d expected failures" % xfailed
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
