#!/usr/bin/python3
"""Proves check_module.py can fail: each mutation removes or weakens one
security setting in a copy of the module, and the check must then fail.

Usage: mutations.py MODULE_DIR WORK_DIR
Prints "ok - <mutation> is caught" per mutation; exits 1 when a mutation
goes unnoticed, or when a mutation no longer applies (its text is not found
exactly once, so the list must follow the module).
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (description, file, old text, new text)
MUTATIONS = [
    ("Object Lock disabled", "main.tf",
     "object_lock_enabled = true", "object_lock_enabled = false"),
    ("GOVERNANCE instead of COMPLIANCE", "main.tf",
     'mode = "COMPLIANCE"', 'mode = "GOVERNANCE"'),
    ("default retention fixed at 1 day", "main.tf",
     "days = var.retention_days", "days = 1"),
    ("versioning suspended", "main.tf", 'status = "Enabled"', 'status = "Suspended"'),
    ("block_public_acls off", "main.tf",
     "block_public_acls       = true", "block_public_acls       = false"),
    ("block_public_policy removed", "main.tf", "  block_public_policy     = true\n", ""),
    ("ignore_public_acls off", "main.tf",
     "ignore_public_acls      = true", "ignore_public_acls      = false"),
    ("restrict_public_buckets off", "main.tf",
     "restrict_public_buckets = true", "restrict_public_buckets = false"),
    ("ACLs re-enabled", "main.tf", '"BucketOwnerEnforced"', '"ObjectWriter"'),
    ("SSE-S3 instead of SSE-KMS", "main.tf",
     'sse_algorithm     = "aws:kms"', 'sse_algorithm     = "AES256"'),
    ("TLS-only condition inverted", "main.tf",
     'variable = "aws:SecureTransport"\n      values   = ["false"]',
     'variable = "aws:SecureTransport"\n      values   = ["true"]'),
    ("uploads with another SSE accepted", "main.tf",
     'variable = "s3:x-amz-server-side-encryption"\n      values   = ["aws:kms"]',
     'variable = "s3:x-amz-server-side-encryption"\n      values   = ["aws:kms", "AES256"]'),
    ("GOVERNANCE uploads accepted", "main.tf",
     'variable = "s3:object-lock-mode"', 'variable = "s3:object-lock-legal-hold"'),
    ("data key rotation off", "main.tf",
     "enable_key_rotation     = true", "enable_key_rotation     = false"),
    ("table provisioned", "main.tf", '"PAY_PER_REQUEST"', '"PROVISIONED"'),
    ("point-in-time recovery off", "main.tf",
     "point_in_time_recovery {\n    enabled = true", "point_in_time_recovery {\n    enabled = false"),
    ("table encryption off", "main.tf",
     "server_side_encryption {\n    enabled     = true",
     "server_side_encryption {\n    enabled     = false"),
    ("root may sign", "main.tf", '      "kms:CreateAlias",\n',
     '      "kms:CreateAlias",\n      "kms:Sign",\n'),
    ("root may create grants", "main.tf", '      "kms:CreateAlias",\n',
     '      "kms:CreateAlias",\n      "kms:CreateGrant",\n'),
    ("auditors may write records", "main.tf",
     'actions   = ["s3:GetObject"]\n      resources = [local.records_arn]',
     'actions   = ["s3:GetObject", "s3:PutObject"]\n      resources = [local.records_arn]'),
    ("auditors list the whole bucket", "main.tf",
     '\n        variable = "s3:prefix"', '\n        variable = "s3:delimiter"'),
    ("auditors may decrypt outside S3", "main.tf",
     '\n        variable = "kms:ViaService"', '\n        variable = "kms:CallerAccount"'),
    ("auditors may encrypt", "main.tf",
     '      actions   = ["kms:Decrypt"]\n', '      actions   = ["kms:Decrypt", "kms:Encrypt"]\n'),
    ("auditors may sign", "main.tf",
     'actions   = ["kms:GetPublicKey", "kms:DescribeKey"]\n      principals',
     'actions   = ["kms:GetPublicKey", "kms:DescribeKey", "kms:Sign"]\n      principals'),
    ("the explicit Deny of Sign dropped", "main.tf",
     'effect    = "Deny"\n    resources = ["*"]\n    actions   = ["kms:Sign"]',
     'effect    = "Deny"\n    resources = ["*"]\n    actions   = ["kms:Verify"]'),
    ("aud not pinned", "main.tf",
     'variable = "token.actions.githubusercontent.com:aud"',
     'variable = "token.actions.githubusercontent.com:iss"'),
    ("sub pattern widened", "main.tf",
     '"repo:${var.github_repository}:${s}"', '"repo:${var.github_repository}:*"'),
    ("wildcard KMS action for the role", "main.tf",
     'actions   = ["kms:Sign", "kms:GetPublicKey"]', 'actions   = ["kms:*"]'),
    ("role writes the whole bucket", "main.tf",
     "\n    resources = [local.records_arn]", '\n    resources = ["${aws_s3_bucket.records.arn}/*"]'),
    ("role may delete objects", "main.tf",
     '"s3:PutObjectRetention", "s3:GetObject"]',
     '"s3:PutObjectRetention", "s3:GetObject", "s3:DeleteObject"]'),
    ("ListBucket without the prefix condition", "main.tf",
     '\n      variable = "s3:prefix"', '\n      variable = "s3:delimiter"'),
    ("data key usable outside S3", "main.tf",
     '\n      variable = "kms:ViaService"', '\n      variable = "kms:CallerAccount"'),
    ("DynamoDB on every table", "main.tf",
     "resources = [aws_dynamodb_table.sequencer.arn]", 'resources = ["*"]'),
    ("key_spec accepts RSA_2048", "variables.tf",
     'contains(["RSA_3072", "ECC_NIST_P256"], var.key_spec)',
     'contains(["RSA_3072", "ECC_NIST_P256", "RSA_2048"], var.key_spec)'),
    ("retention_days accepts 0", "variables.tf",
     "var.retention_days > 0", "var.retention_days >= 0"),
    ("object_prefix accepts '*'", "variables.tf",
     '"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.object_prefix',
     '"^[A-Za-z0-9_.*-]+(/[A-Za-z0-9_.*-]+)*$", var.object_prefix'),
    ("key_uri without the ARN", "outputs.tf",
     '"awskms:///${aws_kms_key.signing.arn}"', '"awskms:///${aws_kms_key.signing.key_id}"'),
    ("fingerprint of the base64 text", "outputs.tf",
     '"sha256:${local_file.public_key_der.content_sha256}"',
     '"sha256:${sha256(base64decode(data.aws_kms_public_key.signing.public_key))}"'),
    ("store URI without retention-days", "outputs.tf",
     "&retention-days=${var.retention_days}", ""),
    ("README misses an input", "README.md",
     "| `tags` |", "| `tag` |"),
    ("README shows another default", "README.md",
     '| `"ECC_NIST_P256"` |', '| `"RSA_3072"` |'),
    ("the CI role may sign again", "main.tf",
     'actions   = ["kms:GetPublicKey"]', 'actions   = ["kms:GetPublicKey", "kms:Sign"]'),
    ("the CI role may write records again", "main.tf",
     'actions   = ["lambda:InvokeFunctionUrl"]', 'actions   = ["lambda:InvokeFunctionUrl", "s3:PutObject"]'),
    ("the CI role may Invoke directly (and forge the identity)", "main.tf",
     'variable = "lambda:InvokedViaFunctionUrl"', 'variable = "lambda:EventSourceToken"'),
    ("the Function URL without auth", "main.tf",
     'authorization_type = "AWS_IAM"', 'authorization_type = "NONE"'),
    ("the CI role may call a URL with no auth", "main.tf",
     'variable = "lambda:FunctionUrlAuthType"\n      values   = ["AWS_IAM"]',
     'variable = "lambda:FunctionUrlAuthType"\n      values   = ["NONE"]'),
    ("the Deny of Sign spares the CI role", "main.tf",
     'variable = "aws:PrincipalArn"\n      values   = [aws_iam_role.service.arn]',
     'variable = "aws:PrincipalArn"\n      values   = [aws_iam_role.ci.arn]'),
    ("the service role trusted by Lambda of any account", "main.tf",
     'variable = "aws:SourceAccount"', 'variable = "aws:SourceOwner"'),
    ("the service on another runtime", "main.tf",
     'runtime          = "provided.al2023"', 'runtime          = "provided.al2"'),
    ("the service logs anywhere", "main.tf",
     'resources = ["${aws_cloudwatch_log_group.service.arn}:*"]', 'resources = ["*"]'),
    ("the service signs with any key", "main.tf",
     'actions   = ["kms:Sign", "kms:GetPublicKey"]\n    resources = [aws_kms_key.signing.arn]',
     'actions   = ["kms:Sign", "kms:GetPublicKey"]\n    resources = ["*"]'),
    ("the service without its policy", "main.tf",
     "TFATTEST_POLICY    = local.service_policy", 'TFATTEST_POLICY    = "{}"'),
    ("README misses an output", "README.md", "| `service_url` |", "| `service` |"),
    ("a syntax error", "main.tf", "# ---- the sequencer table", "resource {"),
]


def check(module, parsed_doc, work, i):
    parsed = os.path.join(work, f"parsed-{i}.json")
    with open(parsed, "w") as f:
        json.dump(parsed_doc, f)
    p = subprocess.run([sys.executable, os.path.join(HERE, "check_module.py"), parsed, module],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return "pass" if p.returncode == 0 else p.stderr.strip().splitlines()[0]


def main():
    module, work = sys.argv[1], sys.argv[2]
    failed = 0
    copies = []
    for i, (desc, rel, old, new) in enumerate(MUTATIONS):
        copy = os.path.join(work, f"mod-{i}")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(module, copy)
        path = os.path.join(copy, rel)
        text = open(path, encoding="utf-8").read()
        if text.count(old) != 1:
            print(f"FAIL: mutation '{desc}': its text occurs {text.count(old)} times in {rel}",
                  file=sys.stderr)
            failed += 1
            continue
        open(path, "w", encoding="utf-8").write(text.replace(old, new))
        copies.append((i, desc, copy))
    # One node process parses every copy.
    p = subprocess.run(["node", os.path.join(HERE, "hcl2json.js"), "--each"] +
                       [c for _, _, c in copies], stdout=subprocess.PIPE, check=True)
    parsed = json.loads(p.stdout)
    for i, desc, copy in copies:
        doc = parsed[copy]
        got = ("parse: " + doc["__error__"]) if "__error__" in doc else check(copy, doc, work, i)
        if got == "pass":
            print(f"FAIL: mutation '{desc}' is not caught", file=sys.stderr)
            failed += 1
        else:
            print(f"ok - mutation '{desc}' is caught ({got})")
    print(f"{len(MUTATIONS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
