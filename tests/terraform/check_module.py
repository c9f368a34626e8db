#!/usr/bin/python3
"""Asserts the security settings of the tfattest Terraform module.

Terraform cannot run here, so the module's .tf files are parsed with
@cdktf/hcl2json (tests/terraform/hcl2json.js) and each setting is checked in
the parsed JSON. Every check names the setting; removing any of them from the
module makes this script fail (tests/integration/terraform_module.sh proves it
by deleting them one at a time).

Usage: check_module.py PARSED.json MODULE_DIR
  PARSED.json  the output of hcl2json.js MODULE_DIR
Prints "ok - ..." per check; exits 1 when any check fails.
"""

import json
import os
import re
import sys

failures = 0
checks = 0


def check(cond, desc):
    global failures, checks
    checks += 1
    if cond:
        print(f"ok - {desc}")
    else:
        failures += 1
        print(f"FAIL: {desc}", file=sys.stderr)
    return cond


def merge(files, prefix=""):
    """Merges the top-level blocks of the module's own files (not examples/)."""
    mod = {}
    for rel, doc in files.items():
        if os.path.dirname(rel) != prefix:
            continue
        for kind, body in doc.items():
            if kind in ("terraform", "locals"):
                mod.setdefault(kind, []).extend(body if isinstance(body, list) else [body])
                continue
            for typ, named in body.items():
                tgt = mod.setdefault(kind, {}).setdefault(typ, {})
                if isinstance(named, list):  # variable/output: {name: [..]}
                    tgt.setdefault("__list__", []).extend(named)
                else:
                    for name, blocks in named.items():
                        tgt[name] = blocks
    return mod


def one(mod, kind, typ, name=None):
    """The single block of resource/data typ.name (or the only one of typ)."""
    named = mod.get(kind, {}).get(typ, {})
    if name is None:
        if len(named) != 1:
            return None
        name = next(iter(named))
    blocks = named.get(name)
    return blocks[0] if blocks else None


def ref(expr):
    """'${aws_kms_key.signing.arn}' -> 'aws_kms_key.signing.arn'."""
    if isinstance(expr, str):
        m = re.fullmatch(r"\$\{(.*)\}", expr.strip())
        if m:
            return m.group(1).strip()
    return None


def statements(mod, doc_name):
    doc = one(mod, "data", "aws_iam_policy_document", doc_name)
    if doc is None:
        return None
    out = list(doc.get("statement", []))
    dyns = doc.get("dynamic", [])
    for dyn in (dyns if isinstance(dyns, list) else [dyns]):
        for c in dyn.get("statement", []):
            out.extend(c.get("content", []))
    return out


def principals(st):
    out = []
    for p in st.get("principals", []):
        ids = p.get("identifiers")
        ids = [ids] if isinstance(ids, str) else list(ids or [])
        out.append((p.get("type"), ids))
    return out


def conditions(st):
    return [(c.get("test"), c.get("variable"), c.get("values")) for c in st.get("condition", [])]


def doc_of(resource_attr):
    r = ref(resource_attr)
    m = re.fullmatch(r"data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json", r or "")
    return m.group(1) if m else None


def out_value(outputs, name):
    return str(outputs.get(name, {}).get("value", ""))


def main():
    parsed, module_dir = sys.argv[1], sys.argv[2]
    files = json.load(open(parsed))
    mod = merge(files)
    variables = {}
    for rel, doc in files.items():
        if os.path.dirname(rel) == "":
            for name, blocks in doc.get("variable", {}).items():
                variables[name] = blocks[0]
    outputs = {}
    for rel, doc in files.items():
        if os.path.dirname(rel) == "":
            for name, blocks in doc.get("output", {}).items():
                outputs[name] = blocks[0]
    resources = mod.get("resource", {})
    locals_ = {}
    for block in mod.get("locals", []):
        for b in (block if isinstance(block, list) else [block]):
            locals_.update(b)

    # ---- layout -----------------------------------------------------------
    for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md",
              "examples/basic/main.tf"):
        check(os.path.isfile(os.path.join(module_dir, f)), f"registry layout: {f} exists")
    tf = (mod.get("terraform") or [{}])[0]
    aws = ((tf.get("required_providers") or [{}])[0]).get("aws", {})
    check(aws.get("source") == "hashicorp/aws" and aws.get("version"),
          "versions.tf pins the hashicorp/aws provider")
    check(bool(tf.get("required_version")), "versions.tf sets required_version")

    # ---- variables --------------------------------------------------------
    for name, v in variables.items():
        check(v.get("description") and v.get("type"), f"variable {name} has a type and a description")

    def validation(name):
        return " ".join(x.get("condition", "") for x in variables.get(name, {}).get("validation", []))

    ks = validation("key_spec")
    specs = set(re.findall(r'"([A-Z0-9_]+)"', ks))
    check(specs == {"RSA_3072", "ECC_NIST_P256"} and "var.key_spec" in ks,
          "key_spec is validated to RSA_3072 or ECC_NIST_P256")
    check(variables.get("key_spec", {}).get("default") in ("RSA_3072", "ECC_NIST_P256"),
          "key_spec defaults to a supported spec")
    rd = validation("retention_days")
    check(re.search(r"var\.retention_days\s*>\s*0", rd) is not None,
          "retention_days is validated > 0")
    check(re.search(r"var\.key_deletion_window_days\s*>=\s*7", validation("key_deletion_window_days"))
          is not None, "key_deletion_window_days is validated >= 7")

    def regex_of(name):
        m = re.search(r'regex\("((?:[^"\\]|\\.)*)"', validation(name))
        return json.loads('"' + m.group(1) + '"') if m else None

    rx = regex_of("object_prefix")
    if check(rx is not None, "object_prefix is validated with a regex"):
        good = all(re.search(rx, s) for s in ("tfattest", "prod/chain-1"))
        bad = not any(re.search(rx, s) for s in ("", "/a", "a/", "a/*", "*", "a//b"))
        check(good and bad, "object_prefix validation accepts a/b and rejects '', '/a', 'a/', '*'")
    rx = regex_of("github_repository")
    if check(rx is not None, "github_repository is validated with a regex"):
        check(re.search(rx, "octo/app") and not any(re.search(rx, s) for s in ("octo/*", "*", "octo")),
              "github_repository validation rejects wildcards")
    rx = regex_of("github_subjects")
    if check(rx is not None, "github_subjects is validated with a regex"):
        ok_ = all(re.search(rx, s) for s in ("ref:refs/heads/main", "ref:refs/tags/v*",
                                              "environment:production"))
        bad = not any(re.search(rx, s) for s in ("*", "ref:*", "ref:refs/heads/*", "pull_request",
                                                  "repo:x/y:ref:refs/heads/main"))
        check(ok_ and bad, "github_subjects validation accepts refs/environments, rejects '*' and pull_request")

    # ---- the signing key ----------------------------------------------------
    keys = resources.get("aws_kms_key", {})
    signing = [(n, b[0]) for n, b in keys.items() if b[0].get("key_usage") == "SIGN_VERIFY"]
    if not check(len(signing) == 1, "exactly one aws_kms_key has key_usage SIGN_VERIFY"):
        return
    sname, skey = signing[0]
    spec = skey.get("customer_master_key_spec") or skey.get("key_spec")
    check(ref(spec) == "var.key_spec", "the signing key's spec is var.key_spec")
    check(ref(skey.get("deletion_window_in_days")) == "var.key_deletion_window_days",
          "the signing key has the deletion window variable")
    alias = [b[0] for b in resources.get("aws_kms_alias", {}).values()
             if ref(b[0].get("target_key_id")) in (f"aws_kms_key.{sname}.key_id",
                                                     f"aws_kms_key.{sname}.arn")]
    check(len(alias) == 1, "the signing key has an alias")
    # Two roles: the CI role (web identity) and the service's execution role (Lambda).
    def trusted_by(name):
        r = resources.get("aws_iam_role", {}).get(name, [{}])[0]
        t = statements(mod, doc_of(r.get("assume_role_policy"))) or []
        return {a for st in t for a in st.get("actions", [])}

    roles = resources.get("aws_iam_role", {})
    ci_names = [n for n in roles if "sts:AssumeRoleWithWebIdentity" in trusted_by(n)]
    svc_names = [n for n in roles if trusted_by(n) == {"sts:AssumeRole"}]
    check(len(roles) == 2 and len(ci_names) == 1 and len(svc_names) == 1,
          "two roles: the CI role (web identity) and the service role (assumed by Lambda)")
    role_name = ci_names[0] if ci_names else None
    role = roles[role_name][0] if role_name else None
    role_arn = f"aws_iam_role.{role_name}.arn"
    svc_role_name = svc_names[0] if svc_names else None
    svc_role_arn = f"aws_iam_role.{svc_role_name}.arn"
    sts = statements(mod, doc_of(skey.get("policy")))
    if check(sts is not None, "the signing key's policy is an aws_iam_policy_document"):
        allows = [s for s in sts if s.get("effect", "Allow") == "Allow"]
        signers = [s for s in allows if any(a in ("kms:Sign", "kms:*", "*") or
                                            (a.endswith("*") and "kms:Sign".startswith(a[:-1]))
                                            for a in s.get("actions", []))]
        check(len(signers) == 1 and principals(signers[0]) == [("AWS", ["${" + svc_role_arn + "}"])],
              "key policy: kms:Sign is allowed to the service role and to no one else (not the CI role)")
        if signers:
            check({"kms:GetPublicKey", "kms:DescribeKey"} <= set(signers[0].get("actions", [])),
                  "key policy: the service role may also GetPublicKey and DescribeKey")
        def is_root(i):
            if i == "${local.account_root}":
                return str(locals_.get("account_root", "")).endswith(":root")
            return i.endswith(":root") or i.endswith(":root}")

        root = [s for s in allows if any(is_root(i) for _, ids in principals(s) for i in ids)]
        check(len(root) == 1 and "kms:Sign" not in root[0].get("actions", [])
              and "kms:CreateGrant" not in root[0].get("actions", [])
              and not any("*" in a for a in root[0].get("actions", []))
              and "kms:PutKeyPolicy" in root[0].get("actions", []),
              "key policy: the account root administers the key without Sign, CreateGrant or wildcards")
        aud = [s for s in allows if principals(s) == [("AWS", ["${var.auditor_principal_arns}"])]]
        check(len(aud) == 1 and set(aud[0].get("actions", [])) == {"kms:GetPublicKey", "kms:DescribeKey"},
              "key policy: auditors may GetPublicKey and DescribeKey only")
        deny = [s for s in sts if s.get("effect") == "Deny" and s.get("actions") == ["kms:Sign"]]
        check(len(deny) == 1 and ("ArnNotEquals", "aws:PrincipalArn", ["${" + svc_role_arn + "}"])
              in conditions(deny[0]),
              "key policy: an explicit Deny of kms:Sign to every principal but the service role")
    pk = [b[0] for b in mod.get("data", {}).get("aws_kms_public_key", {}).values()]
    check(len(pk) == 1 and ref(pk[0].get("key_id")) in (f"aws_kms_key.{sname}.arn",
                                                       f"aws_kms_key.{sname}.key_id"),
          "data aws_kms_public_key reads the signing key")

    # ---- the data key -------------------------------------------------------
    data_keys = [(n, b[0]) for n, b in keys.items() if n != sname]
    check(len(data_keys) == 1, "one symmetric data key besides the signing key")
    dname, dkey = data_keys[0] if data_keys else (None, {})
    check(dkey.get("enable_key_rotation") is True, "the data key has rotation enabled")
    check(dkey.get("key_usage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
          and dkey.get("customer_master_key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT",
          "the data key is symmetric")
    data_arn = f"aws_kms_key.{dname}.arn"
    AUD = [("AWS", ["${var.auditor_principal_arns}"])]
    dpol = ref(dkey.get("policy"))
    dst = statements(mod, dpol.split(".")[2]) if dpol and dpol.startswith("data.") else None
    daud = [s for s in (dst or []) if principals(s) == AUD]
    check(len(daud) == 1 and daud[0].get("actions") == ["kms:Decrypt"]
          and ("StringEquals", "kms:ViaService", ["s3.${local.region}.amazonaws.com"]) in conditions(daud[0]),
          "data key policy: auditors may only Decrypt, and only through S3")

    # ---- the bucket ---------------------------------------------------------
    bname = next(iter(resources.get("aws_s3_bucket", {})), None)
    bucket = one(mod, "resource", "aws_s3_bucket")
    check(bucket is not None and bucket.get("object_lock_enabled") is True,
          "aws_s3_bucket has object_lock_enabled = true")

    def for_bucket(typ):
        return [b[0] for b in resources.get(typ, {}).values()
                if ref(b[0].get("bucket")) in (f"aws_s3_bucket.{bname}.id",
                                               f"aws_s3_bucket.{bname}.bucket")]

    ver = for_bucket("aws_s3_bucket_versioning")
    check(len(ver) == 1 and ver[0].get("versioning_configuration", [{}])[0].get("status") == "Enabled",
          "bucket versioning is Enabled")
    lock = for_bucket("aws_s3_bucket_object_lock_configuration")
    dr = (lock[0].get("rule", [{}])[0].get("default_retention", [{}])[0]) if lock else {}
    check(dr.get("mode") == "COMPLIANCE", "Object Lock default retention mode is COMPLIANCE")
    check(ref(dr.get("days")) == "var.retention_days", "Object Lock default retention is var.retention_days days")
    pab = for_bucket("aws_s3_bucket_public_access_block")
    check(len(pab) == 1 and all(pab[0].get(k) is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")),
        "public access block: all four settings true")
    own = for_bucket("aws_s3_bucket_ownership_controls")
    check(len(own) == 1 and own[0].get("rule", [{}])[0].get("object_ownership") == "BucketOwnerEnforced",
          "object ownership BucketOwnerEnforced (ACLs off)")
    sse = for_bucket("aws_s3_bucket_server_side_encryption_configuration")
    d = (sse[0].get("rule", [{}])[0].get("apply_server_side_encryption_by_default", [{}])[0]) if sse else {}
    check(d.get("sse_algorithm") == "aws:kms" and ref(d.get("kms_master_key_id")) == data_arn,
          "default encryption is SSE-KMS with the data key")
    pol = for_bucket("aws_s3_bucket_policy")
    bst = statements(mod, doc_of(pol[0].get("policy"))) if pol else None
    if check(bst is not None, "the bucket has a policy from an aws_iam_policy_document"):
        barn = f"${{aws_s3_bucket.{bname}.arn}}"

        def denies(action, cond):
            return [s for s in bst if s.get("effect") == "Deny"
                    and action in s.get("actions", []) and cond in conditions(s)
                    and principals(s) == [("*", ["*"])]]

        tls = denies("s3:*", ("Bool", "aws:SecureTransport", ["false"]))
        check(len(tls) == 1 and set(tls[0].get("resources", [])) == {barn, barn + "/*"},
              "bucket policy denies every request without TLS (aws:SecureTransport = false)")
        check(len(denies("s3:PutObject", ("StringNotEqualsIfExists",
                                          "s3:x-amz-server-side-encryption", ["aws:kms"]))) == 1,
              "bucket policy denies uploads that ask for other than SSE-KMS")
        check(len(denies("s3:PutObject", ("StringNotEqualsIfExists",
                                          "s3:x-amz-server-side-encryption-aws-kms-key-id",
                                          ["${" + data_arn + "}"]))) == 1,
              "bucket policy denies uploads with another KMS key")
        check(len(denies("s3:PutObject", ("StringNotEqualsIfExists", "s3:object-lock-mode",
                                          ["COMPLIANCE"]))) == 1,
              "bucket policy denies Object Lock modes other than COMPLIANCE")
        baud = [s for s in bst if s.get("effect", "Allow") == "Allow" and principals(s) == AUD]
        acts = sorted(a for s in baud for a in s.get("actions", []))
        check(acts == ["s3:GetObject", "s3:ListBucket"],
              "bucket policy: auditors may only GetObject and ListBucket (what export --manifest-key needs)")
        get = [s for s in baud if s.get("actions") == ["s3:GetObject"]]
        lst = [s for s in baud if s.get("actions") == ["s3:ListBucket"]]
        check(len(get) == 1 and get[0].get("resources") == ["${local.records_arn}"],
              "bucket policy: auditors read only under the prefix")
        check(len(lst) == 1 and ("StringLike", "s3:prefix", ["${var.object_prefix}/*"]) in conditions(lst[0]),
              "bucket policy: auditors list only the prefix")

    # ---- the table ----------------------------------------------------------
    table = one(mod, "resource", "aws_dynamodb_table")
    tname = next(iter(resources.get("aws_dynamodb_table", {})), None)
    if check(table is not None, "one aws_dynamodb_table"):
        check(table.get("billing_mode") == "PAY_PER_REQUEST", "the table is PAY_PER_REQUEST")
        check(table.get("point_in_time_recovery", [{}])[0].get("enabled") is True,
              "the table has point-in-time recovery")
        check(table.get("server_side_encryption", [{}])[0].get("enabled") is True,
              "the table has server-side encryption")
        check(table.get("hash_key") == "chain" and {"name": "chain", "type": "S"} in table.get("attribute", []),
              "the table's partition key is the string `chain` the sequencer uses")

    # ---- OIDC and the role --------------------------------------------------
    oidc = one(mod, "resource", "aws_iam_openid_connect_provider")
    check(oidc is not None and oidc.get("url") == "https://token.actions.githubusercontent.com"
          and oidc.get("client_id_list") == ["sts.amazonaws.com"]
          and ref(oidc.get("count", "")) is not None and "var.create_oidc_provider" in oidc.get("count", ""),
          "the GitHub OIDC provider is created unless an existing one is used")
    check(role is not None, "one aws_iam_role")
    trust = statements(mod, doc_of((role or {}).get("assume_role_policy")))
    if check(trust is not None and len(trust) == 1, "the role's trust policy has one statement"):
        t = trust[0]
        check(t.get("actions") == ["sts:AssumeRoleWithWebIdentity"]
              and principals(t) == [("Federated", ["${local.oidc_provider_arn}"])],
              "trust: AssumeRoleWithWebIdentity from the OIDC provider only")
        conds = conditions(t)
        check(("StringEquals", "token.actions.githubusercontent.com:aud", ["sts.amazonaws.com"]) in conds,
              "trust pins aud = sts.amazonaws.com")
        subs = [c for c in conds if c[1] == "token.actions.githubusercontent.com:sub"]
        check(len(subs) == 1 and subs[0][0] in ("StringEquals", "StringLike")
              and subs[0][2] == "${local.github_subs}"
              and "repo:${var.github_repository}:${s}" in str(locals_.get("github_subs", "")),
              "trust pins sub to repo:OWNER/REPO:<subject> built from the variables")
    def role_policies(rname):
        return [b[0] for b in resources.get("aws_iam_role_policy", {}).values()
                if ref(b[0].get("role")) in (f"aws_iam_role.{rname}.id", f"aws_iam_role.{rname}.name")]

    check(len(resources.get("aws_iam_role_policy", {})) == 2 and not resources.get("aws_iam_role_policy_attachment")
          and not resources.get("aws_iam_policy"),
          "each role has exactly one (inline) policy and no attached managed policies")
    fname = next(iter(resources.get("aws_lambda_function", {})), None)
    farn = "${aws_lambda_function.%s.arn}" % fname
    skarn = "${aws_kms_key.%s.arn}" % sname

    def allowed_of(sts_, who):
        allowed = {}
        for s_ in sts_:
            check(s_.get("effect", "Allow") == "Allow" and not s_.get("not_actions")
                  and not s_.get("not_resources"), f"{who} statement {s_.get('sid')}: plain Allow")
            for a in s_.get("actions", []):
                allowed.setdefault(a, []).extend(s_.get("resources", []))
        check(not any("*" in a for a in allowed), f"{who} policy: no wildcard in any action")
        return allowed

    # The CI role: calls the service through its URL, reads the public key; nothing else.
    pol = role_policies(role_name)
    ci = statements(mod, doc_of(pol[0].get("policy"))) if len(pol) == 1 else None
    if check(ci is not None, "the CI role's one policy is an aws_iam_policy_document"):
        allowed = allowed_of(ci, "CI role")
        want = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction", "kms:GetPublicKey"}
        check(set(allowed) == want,
              f"CI role policy: exactly the needed actions ({sorted(set(allowed) ^ want)} differ)")
        check(not any(a.startswith(("s3:Put", "s3:Delete", "dynamodb:")) or a == "kms:Sign"
                      for a in allowed),
              "CI role policy: no kms:Sign, no store write, no sequencer")
        check(allowed.get("lambda:InvokeFunctionUrl") == [farn]
              and allowed.get("lambda:InvokeFunction") == [farn],
              "CI role policy: Lambda actions on the service function only")
        url = [s_ for s_ in ci if "lambda:InvokeFunctionUrl" in s_.get("actions", [])]
        check(len(url) == 1 and ("StringEquals", "lambda:FunctionUrlAuthType", ["AWS_IAM"])
              in conditions(url[0]), "CI role policy: the URL only with AWS_IAM auth")
        inv = [s_ for s_ in ci if "lambda:InvokeFunction" in s_.get("actions", [])]
        check(len(inv) == 1 and ("Bool", "lambda:InvokedViaFunctionUrl", ["true"])
              in conditions(inv[0]),
              "CI role policy: InvokeFunction only through the Function URL (a direct Invoke "
              "could forge the identity)")
        check(allowed.get("kms:GetPublicKey") == [skarn],
              "CI role policy: GetPublicKey on the signing key only")

    # The service role: trusted by Lambda of this account; signs, writes, sequences, logs.
    strust = statements(mod, doc_of(roles.get(svc_role_name, [{}])[0].get("assume_role_policy")))
    if check(strust is not None and len(strust) == 1, "the service role's trust policy has one statement"):
        check(principals(strust[0]) == [("Service", ["lambda.amazonaws.com"])]
              and ("StringEquals", "aws:SourceAccount", ["${local.account_id}"]) in conditions(strust[0]),
              "service trust: lambda.amazonaws.com of this account only")
    pol = role_policies(svc_role_name)
    sp = statements(mod, doc_of(pol[0].get("policy"))) if len(pol) == 1 else None
    if check(sp is not None, "the service role's one policy is an aws_iam_policy_document"):
        allowed = allowed_of(sp, "service role")
        want = {"kms:Sign", "kms:GetPublicKey", "s3:PutObject", "s3:PutObjectRetention", "s3:GetObject",
                "s3:ListBucket", "kms:GenerateDataKey", "kms:Decrypt", "dynamodb:GetItem",
                "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
                "logs:CreateLogStream", "logs:PutLogEvents"}
        check(set(allowed) == want,
              f"service role policy: exactly the needed actions ({sorted(set(allowed) ^ want)} differ)")
        check(allowed.get("kms:Sign") == [skarn] and allowed.get("kms:GetPublicKey") == [skarn],
              "service role policy: kms:Sign and GetPublicKey on the signing key only")
        prefix_arn = "${local.records_arn}"
        check(re.search(r"/\$\{var\.object_prefix\}/\*$", str(locals_.get("records_arn", ""))) is not None,
              "service role policy: the records ARN is BUCKET/PREFIX/*")
        for a in ("s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"):
            check(allowed.get(a) == [prefix_arn], f"service role policy: {a} only under the prefix")
        lst = [s_ for s_ in sp if "s3:ListBucket" in s_.get("actions", [])]
        check(len(lst) == 1 and ("StringLike", "s3:prefix", ["${var.object_prefix}/*"]) in conditions(lst[0]),
              "service role policy: ListBucket limited to the prefix")
        dk = [s_ for s_ in sp if "kms:GenerateDataKey" in s_.get("actions", [])]
        check(len(dk) == 1 and dk[0].get("resources") == ["${" + data_arn + "}"]
              and any(c[1] == "kms:ViaService" for c in conditions(dk[0])),
              "service role policy: the data key only through S3 (kms:ViaService)")
        tarn = "${aws_dynamodb_table.%s.arn}" % tname
        check(all(allowed.get(a) == [tarn] for a in ("dynamodb:GetItem", "dynamodb:PutItem",
                                                    "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")),
              "service role policy: DynamoDB actions on the one table")
        lg = next(iter(resources.get("aws_cloudwatch_log_group", {})), None)
        check(all(allowed.get(a) == ["${aws_cloudwatch_log_group.%s.arn}:*" % lg]
                  for a in ("logs:CreateLogStream", "logs:PutLogEvents")),
              "service role policy: logs to its own log group only")
        for a, res in allowed.items():
            for r in res:
                check("*" not in r.replace("/${var.object_prefix}/*", "").replace("${local.records_arn}", "")
                      .replace(":*", ""),
                      f"service role policy: {a} on {r} has no wildcard resource beyond the prefix")

    # ---- the service: function and Function URL --------------------------------
    fn = one(mod, "resource", "aws_lambda_function")
    if check(fn is not None, "one aws_lambda_function (the attestation service)"):
        check(fn.get("runtime") == "provided.al2023", "the function runs on provided.al2023")
        check(ref(fn.get("role")) == svc_role_arn, "the function runs as the service role")
        check(ref(fn.get("filename")) == "var.service_package"
              and fn.get("source_code_hash") == "${filebase64sha256(var.service_package)}",
              "the function's code is the service_package zip, tracked by its hash")
        env = (fn.get("environment") or [{}])[0].get("variables", {})
        check(env.get("TFATTEST_KEY") == "awskms:///%s" % skarn
              and ref(env.get("TFATTEST_STORE")) == "local.service_store_uri"
              and ref(env.get("TFATTEST_SEQUENCER")) == "local.service_sequencer_uri"
              and ref(env.get("TFATTEST_POLICY")) == "local.service_policy",
              "the function is configured with the key, store, sequencer and policy")
        check(str(locals_.get("service_store_uri")) == out_value(outputs, "store_uri"),
              "the function's store URI is the store_uri output")
        check(str(locals_.get("service_sequencer_uri")) == out_value(outputs, "sequencer_uri"),
              "the function's sequencer URI is the sequencer_uri output")
        sp_ = str(locals_.get("service_policy", ""))
        check("aws-iam" in sp_ and "assumed-role/${local.role_name}/*" in sp_,
              "the default service policy allows the CI role's sessions (aws-iam subjects)")
    furl = one(mod, "resource", "aws_lambda_function_url")
    check(furl is not None and furl.get("authorization_type") == "AWS_IAM"
          and ref(furl.get("function_name")) == f"aws_lambda_function.{fname}.function_name",
          "the service's Function URL uses AWS_IAM auth")
    check(not resources.get("aws_lambda_permission"),
          "no aws_lambda_permission (a resource policy could open the function to others)")

    # ---- outputs --------------------------------------------------------------
    def out(name):
        return str(outputs.get(name, {}).get("value", ""))

    check(out("key_uri") == "awskms:///${aws_kms_key.%s.arn}" % sname, "output key_uri is awskms:///<key ARN>")
    check(re.fullmatch(r"s3://\$\{aws_s3_bucket\.\w+\.(id|bucket)\}/\$\{var\.object_prefix\}\?region=\$\{local\.region\}"
                       r"&retention-days=\$\{var\.retention_days\}", out("store_uri")) is not None,
          "output store_uri is s3://BUCKET/PREFIX?region=R&retention-days=N")
    check(re.fullmatch(r"dynamodb://\$\{aws_dynamodb_table\.\w+\.name\}\?region=\$\{local\.region\}",
                       out("sequencer_uri")) is not None, "output sequencer_uri is dynamodb://TABLE?region=R")
    check(out("role_arn") == f"${{{role_arn}}}", "output role_arn")
    fp = out("public_key_fingerprint")
    lf = [b[0] for b in resources.get("local_file", {}).values()]
    check(len(lf) == 1 and ref(lf[0].get("content_base64")) == "data.aws_kms_public_key.%s.public_key"
          % next(iter(mod.get("data", {}).get("aws_kms_public_key", {"": 0})))
          and re.fullmatch(r"sha256:\$\{local_file\.\w+\.content_sha256\}", fp) is not None,
          "output public_key_fingerprint is sha256 of the DER bytes (local_file of the base64 SPKI)")
    alltext = json.dumps(files)
    check("sha256(base64decode" not in alltext.replace(" ", ""),
          "nothing hashes base64decode() output with sha256() (that hashes a UTF-8 string)")

    # ---- README tables match the variables and outputs -------------------------
    readme = open(os.path.join(module_dir, "README.md"), encoding="utf-8").read()

    def table(title):
        m = re.search(r"^## " + title + r"\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
        rows = {}
        for line in (m.group(1) if m else "").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            mm = re.fullmatch(r"`([a-z0-9_]+)`", cells[0]) if line.startswith("|") else None
            if mm:
                rows[mm.group(1)] = cells
        return rows

    inputs = table("Inputs")
    check(set(inputs) == set(variables), f"README Inputs table lists exactly the variables "
          f"({sorted(set(inputs) ^ set(variables))} differ)")
    for name, cells in inputs.items():
        if name in variables:
            required = "default" not in variables[name]
            check(cells[-1].lower() == ("yes" if required else "no"),
                  f"README Inputs: {name} Required = {'yes' if required else 'no'}")
            check(variables[name].get("description", "") == cells[1],
                  f"README Inputs: {name} description matches variables.tf")
            check(len(cells) == 5 and "${" + cells[2].strip("`") + "}" == variables[name].get("type"),
                  f"README Inputs: {name} type matches variables.tf")
            if not required:
                dv = variables[name]["default"]
                want = "`null`" if dv is None else "`" + json.dumps(dv) + "`"
                check(len(cells) == 5 and cells[3] == want,
                      f"README Inputs: {name} default matches variables.tf")
    outs = table("Outputs")
    check(set(outs) == set(outputs), f"README Outputs table lists exactly the outputs "
          f"({sorted(set(outs) ^ set(outputs))} differ)")
    for name, cells in outs.items():
        if name in outputs:
            check(outputs[name].get("description", "") == cells[1],
                  f"README Outputs: {name} description matches outputs.tf")

    # ---- examples use the module ----------------------------------------------
    for rel, doc in files.items():
        if rel.startswith("examples/") and rel.endswith("main.tf"):
            mods = [b[0] for b in doc.get("module", {}).values()]
            check(len(mods) == 1 and mods[0].get("source") == "../..",
                  f"{rel} uses the module from ../..")
            mvars = set(mods[0]) - {"source", "providers", "depends_on"} if mods else set()
            check(mvars <= set(variables), f"{rel} passes only known variables ({sorted(mvars - set(variables))})")
            req = {n for n, v in variables.items() if "default" not in v}
            check(req <= mvars, f"{rel} sets every required variable")


if __name__ == "__main__":
    main()
    print(f"{checks - failures} passed, {failures} failed")
    sys.exit(1 if failures or checks == 0 else 0)
