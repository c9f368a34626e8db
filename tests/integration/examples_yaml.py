"""Checks the CI integration files against each other and against the CLI.

  examples_yaml.py TFATTEST ROOT

ROOT holds action.yml (the GitHub composite action), templates/tfattest.yml (the GitLab
CI/CD component) and examples/github-actions/*.yml, examples/gitlab-ci/*.yml. Checked:
  - the action: runs.using composite; every `inputs.X` it uses is declared and every
    declared input is used; every output comes from a step that writes it; every
    $TFA_IN_ variable a step reads is in that step's env;
  - the component: spec.inputs, then the jobs; every $[[ inputs.X ]] is declared and every
    declared input used; option inputs' defaults are among their options; no variable is a
    boolean or array input as a whole (variables hold strings); every $TFA_
    variable a job's script reads is among the job's variables;
  - the examples: every `with:` of the action and every `inputs:` of the component is
    declared there, and every input the component requires (no default) is given; and what their READMEs promise (least permissions, who signs, the
    bundle kept, no secret);
  - every `tfattest CMD` invocation in all of them (options given literally, in an
    array expanded as "${NAME[@]}", or as positional parameters built with `set --`)
    uses only options that `tfattest CMD --help` lists.
Prints one line per problem and exits 1 when there is any.
"""

import glob
import os
import re
import shlex
import subprocess
import sys

import yaml

TFATTEST, ROOT = sys.argv[1], sys.argv[2]
problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- the CLI's options, from its own help -------------------------------------------------
help_cache = {}


def cli_options(cmd):
    if cmd not in help_cache:
        r = subprocess.run([TFATTEST, *cmd.split(), "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            help_cache[cmd] = None
        else:
            help_cache[cmd] = set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", r.stdout, re.M))
    return help_cache[cmd]


# --- tfattest invocations in a shell script ----------------------------------------------
INVOKE = re.compile(r"(?:^|[;&|({]|\$\(|\bthen\b|\bdo\b|\belse\b)\s*tfattest\s+([a-z][a-z0-9-]*)(.*)$")
ARRAY_SET = re.compile(r"\b([A-Za-z_]\w*)\+?=\(([^)]*)\)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def logical_lines(script):
    """The script's lines, continuation lines joined, comment lines dropped."""
    out, cur = [], ""
    for line in script.splitlines():
        if not cur and line.strip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def words_until_end(rest):
    """The words of one command: up to a bare --, or a shell operator."""
    lex = shlex.shlex(rest, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    words = []
    try:
        for w in lex:
            if w == "--" or (w and set(w) <= set("|&;<>()")):
                break
            words.append(w)
    except ValueError:  # an unterminated quote: what was read so far
        pass
    return words


def check_script(where, script):
    """Checks each tfattest invocation's options; returns the commands invoked."""
    lines = logical_lines(script)
    arrays = {}  # array name -> options it is given anywhere in the script
    for line in lines:
        for name, body in ARRAY_SET.findall(line):
            arrays.setdefault(name, set()).update(OPTION.findall(body))
    positional = set()  # options `set --` gave the positional parameters
    invoked = []
    for line in lines:
        # `set -- A B` replaces the positional parameters, `set -- "$@" A B` adds to them
        # (also after `[ ... ] ||`).
        m = re.search(r"\bset --(.*)$", line)
        if m:
            if '"$@"' not in m.group(1):
                positional = set()
            positional |= set(OPTION.findall(m.group(1)))
        for m in INVOKE.finditer(line):
            cmd, rest = m.group(1), m.group(2)
            if cmd == "pkcs11":
                sub = rest.split()
                if sub and sub[0] == "list":
                    cmd, rest = "pkcs11 list", rest.split("list", 1)[1]
            known = cli_options(cmd)
            if known is None:
                problem(where, f"`tfattest {cmd}`: no such command (its --help fails)")
                continue
            used = set()
            for w in words_until_end(rest):
                if w.startswith("--"):
                    used.add(w.split("=", 1)[0])
                am = re.fullmatch(r"\$\{(\w+)\[@\]\}", w)
                if am:
                    if am.group(1) not in arrays:
                        problem(where, f"`tfattest {cmd}` expands ${{{am.group(1)}[@]}}, which is never set")
                    used |= arrays.get(am.group(1), set())
                if w == "$@":
                    used |= positional
            for opt in sorted(used - known):
                problem(where, f"`tfattest {cmd}` is given {opt}, which `tfattest {cmd} --help` does not list")
            invoked.append(cmd)
    return invoked


def scripts_of_job(job):
    out = []
    for k in ("before_script", "script", "after_script"):
        v = job.get(k)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out.extend(str(x) for x in v)
    return out


# --- the GitHub composite action ---------------------------------------------------------
action_path = os.path.join(ROOT, "action.yml")
action_text = load(action_path)
action = yaml.safe_load(action_text)
runs = action.get("runs", {})
if runs.get("using") != "composite":
    problem("action.yml", f"runs.using is {runs.get('using')!r}, not composite")
action_inputs = action.get("inputs") or {}
for name, spec in action_inputs.items():
    if not isinstance(spec, dict) or "description" not in spec:
        problem("action.yml", f"input {name} has no description")
used_inputs = set(re.findall(r"\binputs\.([A-Za-z0-9_-]+)", action_text))
for name in sorted(used_inputs - set(action_inputs)):
    problem("action.yml", f"inputs.{name} is used but not declared")
for name in sorted(set(action_inputs) - used_inputs):
    problem("action.yml", f"input {name} is declared but never used")
steps = runs.get("steps") or []
step_ids = {}
action_invoked = set()
for i, step in enumerate(steps):
    where = f"action.yml step {step.get('id') or step.get('name') or i}"
    if "id" in step:
        step_ids[step["id"]] = step
    if "run" in step:
        if "shell" not in step:
            problem(where, "a run step of a composite action needs shell:")
        env = set((step.get("env") or {}).keys())
        for var in sorted(set(re.findall(r"\$\{?(TFA_IN_[A-Z0-9_]+)", step["run"])) - env):
            problem(where, f"${var} is read but not in the step's env")
        action_invoked.update(check_script(where, step["run"]))
    elif "uses" not in step:
        problem(where, "a step needs run: or uses:")
# The search for invocations must see them: the action runs these.
for cmd in sorted({"apply", "log", "export", "verify", "report"} - action_invoked):
    problem("action.yml", f"no `tfattest {cmd}` invocation found")
action_outputs = action.get("outputs") or {}
for name, spec in action_outputs.items():
    m = re.fullmatch(r"\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}", str(spec.get("value", "")))
    if not m:
        problem("action.yml", f"output {name} is not a step's output")
        continue
    sid, out = m.groups()
    st = step_ids.get(sid)
    if st is None:
        problem("action.yml", f"output {name} names step {sid}, which does not exist")
    elif not re.search(r"\b" + re.escape(out) + r"=", st.get("run", "")):
        problem("action.yml", f"output {name}: step {sid} never writes {out}")
for m in re.finditer(r"\bsteps\.([A-Za-z0-9_-]+)\.", action_text):
    if m.group(1) not in step_ids:
        problem("action.yml", f"steps.{m.group(1)} is referenced but no step has that id")
case = re.search(r'case "\$TFA_IN_COMMAND" in ([a-z|]+)\)', action_text)
action_commands = set(case.group(1).split("|")) if case else set()
if not action_commands:
    problem("action.yml", "no case over $TFA_IN_COMMAND says which commands there are")

# --- the GitLab CI/CD component ----------------------------------------------------------
comp_path = os.path.join(ROOT, "templates", "tfattest.yml")
comp_text = load(comp_path)
docs = list(yaml.safe_load_all(comp_text))
if len(docs) != 2 or not isinstance(docs[0], dict) or "spec" not in docs[0]:
    problem("templates/tfattest.yml", "not a component: a spec: document, ---, then the jobs")
    docs = [{"spec": {"inputs": {}}}, {}] if len(docs) < 2 else docs
comp_inputs = (docs[0].get("spec") or {}).get("inputs") or {}
for name, spec in comp_inputs.items():
    spec = spec or {}
    if "options" in spec and "default" in spec and spec["default"] not in spec["options"]:
        problem("templates/tfattest.yml", f"input {name}: its default is not among its options")
for m in re.finditer(r"\$\[\[(.*?)\]\]", comp_text):
    im = re.fullmatch(r"\s*inputs\.([A-Za-z0-9_-]+)\s*", m.group(1))
    if not im:
        problem("templates/tfattest.yml", f"$[[{m.group(1)}]] is not an input")
    elif im.group(1) not in comp_inputs:
        problem("templates/tfattest.yml", f"$[[ inputs.{im.group(1)} ]] is used but not declared in spec.inputs")
used_comp = set(re.findall(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)", comp_text))
for name in sorted(set(comp_inputs) - used_comp):
    problem("templates/tfattest.yml", f"input {name} is declared but never used")
jobs = docs[1] if isinstance(docs[1], dict) else {}
comp_invoked = set()
for jname, job in jobs.items():
    if not isinstance(job, dict):
        continue
    where = f"templates/tfattest.yml job {jname}"
    variables = dict(job.get("variables") or {})
    # A variable holds a string: a boolean or array input interpolated as its whole value
    # makes the pipeline invalid.
    for var, val in variables.items():
        vm = re.fullmatch(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]", str(val))
        if vm and (comp_inputs.get(vm.group(1)) or {}).get("type") in ("boolean", "array"):
            problem(where, f"variable {var} would be the {comp_inputs[vm.group(1)]['type']} input {vm.group(1)}, not a string")
    base = job.get("extends")
    if base in jobs:
        variables.update(jobs[base].get("variables") or {})
    for s in scripts_of_job(job):
        for var in sorted(set(re.findall(r"\$\{?(TFA_[A-Z0-9_]+)", s)) - set(variables)):
            problem(where, f"${var} is read but not among the job's variables")
        comp_invoked.update(check_script(where, s))
for cmd in sorted({"apply", "export", "verify", "report"} - comp_invoked):
    problem("templates/tfattest.yml", f"no `tfattest {cmd}` invocation found")
apply_jobs = [j for n, j in jobs.items() if n.endswith("-apply")]
if len(apply_jobs) != 1:
    problem("templates/tfattest.yml", "one job ends in -apply")
else:
    aud = (((apply_jobs[0].get("id_tokens") or {}).get("TFATTEST_OIDC_TOKEN")) or {}).get("aud")
    if aud != "$[[ inputs.service-audience ]]":
        problem("templates/tfattest.yml", "the apply job's id_tokens TFATTEST_OIDC_TOKEN aud is not the service-audience input")


# --- the examples -------------------------------------------------------------------------
def uses_action(step):
    return re.search(r"/tfattest@", str(step.get("uses", ""))) is not None


gh_files = sorted(glob.glob(os.path.join(ROOT, "examples", "github-actions", "*.yml")))
gl_files = sorted(glob.glob(os.path.join(ROOT, "examples", "gitlab-ci", "*.yml"))
                  + glob.glob(os.path.join(ROOT, "examples", "gitlab-ci", ".*.yml")))
if not gh_files or not gl_files:
    problem("examples", "no GitHub or no GitLab example")
gh = {}
for path in gh_files:
    rel = os.path.relpath(path, ROOT)
    wf = yaml.safe_load(load(path))
    gh[os.path.basename(path)] = wf
    if wf.get("permissions") != {"id-token": "write", "contents": "read"}:
        problem(rel, f"permissions are {wf.get('permissions')}, not id-token: write and contents: read alone")
    n_action = 0
    for jname, job in (wf.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            where = f"{rel} job {jname} step {step.get('name') or step.get('id') or i}"
            if "run" in step:
                check_script(where, step["run"])
            if uses_action(step):
                n_action += 1
                with_ = step.get("with") or {}
                for k in sorted(set(with_) - set(action_inputs)):
                    problem(where, f"with: {k} is not an input of action.yml")
                cmd = with_.get("command", action_inputs.get("command", {}).get("default"))
                if cmd not in action_commands:
                    problem(where, f"command {cmd!r} is not one of the action's")
            if str(step.get("uses", "")).startswith("hashicorp/setup-terraform"):
                if (step.get("with") or {}).get("terraform_wrapper") is not False:
                    problem(where, "terraform_wrapper must be false: the wrapper hides terraform's exit code")
    if n_action == 0:
        problem(rel, "does not use the tfattest action")

gl = {}
for path in gl_files:
    rel = os.path.relpath(path, ROOT)
    pipe = yaml.safe_load(load(path))
    gl[os.path.basename(path)] = pipe
    incs = [i for i in (pipe.get("include") or []) if isinstance(i, dict)
            and re.search(r"/tfattest@", str(i.get("component", "")))]
    if len(incs) != 1:
        problem(rel, "does not include the tfattest component once")
    for inc in incs:
        given = inc.get("inputs") or {}
        for k in sorted(k for k, v in comp_inputs.items() if "default" not in (v or {}) and k not in given):
            problem(rel, f"input {k} is required by the component and not given")
        for k in sorted(set(given) - set(comp_inputs)):
            problem(rel, f"input {k} is not declared in the component's spec.inputs")
        for k, v in given.items():
            opts = (comp_inputs.get(k) or {}).get("options")
            if opts and v not in opts:
                problem(rel, f"input {k}: {v!r} is not one of {opts}")
    for jname, job in pipe.items():
        if isinstance(job, dict) and jname not in ("include", "variables", "default", "workflow"):
            for s in scripts_of_job(job):
                check_script(f"{rel} job {jname}", s)


def need(cond, where, what):
    if not cond:
        problem(where, what)


def action_step(wf, command):
    for job in (wf.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            if uses_action(step) and (step.get("with") or {}).get("command", "apply") == command:
                return job, step
    return None, None


# What the READMEs promise. deploy.yml: the service signs; the runner holds no key.
svc = gh.get("deploy.yml")
need(svc is not None, "examples/github-actions", "deploy.yml is missing")
if svc:
    job, step = action_step(svc, "apply")
    w = (step or {}).get("with") or {}
    need(step is not None, "deploy.yml", "no apply through the action")
    need(str(w.get("service", "")) != "", "deploy.yml", "the apply does not record through the service")
    need(w.get("service-audience") == "tfattest", "deploy.yml", "the ID token's audience is not tfattest")
    need(w.get("public-key") and w.get("expect-key-fingerprint"), "deploy.yml", "the reply is not checked against a pinned key")
    need(not (set(w) & {"key", "store", "sequencer"}), "deploy.yml", "the runner is given a key or a store")
    flat = yaml.safe_dump(svc)
    for bad in ("awskms:", "pkcs11:", "TFATTEST_KEY"):
        need(bad not in flat, "deploy.yml", f"the runner is given a signing key ({bad})")
kms = gh.get("deploy-kms.yml")
if kms:
    need("ALTERNATIVE" in load(os.path.join(ROOT, "examples", "github-actions", "deploy-kms.yml")).split("\n", 1)[0],
         "deploy-kms.yml", "the direct-KMS form is not labelled as the alternative on its first line")
    _, ap = action_step(kms, "apply")
    w = (ap or {}).get("with") or {}
    need(str(w.get("key", "")).startswith("awskms:///alias/"), "deploy-kms.yml", "the key is not a KMS alias")
    need(str(w.get("store", "")).startswith("s3://") and "retention-days=" in str(w.get("store")),
         "deploy-kms.yml", "the store is not an s3:// store that can be written (retention-days)")
    need(str(w.get("sequencer", "")).startswith("dynamodb://"), "deploy-kms.yml", "no DynamoDB sequencer")
    job, ex = action_step(kms, "export")
    need(ex is not None and ex.get("if") == "always()", "deploy-kms.yml", "the bundle is not exported whatever the apply did")
    if job:
        up = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        need(len(up) == 1 and up[0].get("if") == "always()", "deploy-kms.yml", "the bundle is not uploaded always")
        need(ex and "steps." + str(ex.get("id")) + ".outputs.bundle" in str(up[0].get("with", {}).get("path", "") if up else ""),
             "deploy-kms.yml", "the upload does not take the export's bundle output")
# .gitlab-ci.yml: the service signs; hsm-runner.gitlab-ci.yml: the labelled alternative.
gsvc = gl.get(".gitlab-ci.yml")
need(gsvc is not None, "examples/gitlab-ci", ".gitlab-ci.yml is missing")
if gsvc:
    inp = ((gsvc.get("include") or [{}])[0].get("inputs")) or {}
    need(str(inp.get("service", "")).startswith("https://"), ".gitlab-ci.yml", "the apply does not record through the service")
    need(inp.get("service-audience") == "tfattest", ".gitlab-ci.yml", "the ID token's audience is not tfattest")
    need(not (set(inp) & {"key", "store", "sequencer"}), ".gitlab-ci.yml", "the runner is given a key or a store")
hsm = gl.get("hsm-runner.gitlab-ci.yml")
if hsm:
    need("ALTERNATIVE" in load(os.path.join(ROOT, "examples", "gitlab-ci", "hsm-runner.gitlab-ci.yml")).split("\n", 1)[0],
         "hsm-runner.gitlab-ci.yml", "the HSM-on-the-runner form is not labelled as the alternative on its first line")
    inp = ((hsm.get("include") or [{}])[0].get("inputs")) or {}
    need(str(inp.get("key", "")).startswith("pkcs11:") and "pin-source=file:${TFATTEST_HSM_PIN_FILE}" in str(inp.get("key")),
         "hsm-runner.gitlab-ci.yml", "the key is not a pkcs11: URI with the PIN from the file variable")
    need(inp.get("export") is True, "hsm-runner.gitlab-ci.yml", "the bundle is not exported")
text = action_text + comp_text + "".join(load(p) for p in gh_files + gl_files)
for bad in ("pin-value=", "TFATTEST_PKCS11_PIN", "AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"):
    need(bad not in text, "CI files", f"{bad} appears: no secret belongs in them")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
