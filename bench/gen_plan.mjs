// Generates a Terraform-plan-shaped JSON document for the canonicalization
// benchmark, deterministically from a seed.
//   node bench/gen_plan.mjs SEED TARGET_BYTES [SHAPE] > plan.json
// SHAPE is `plan` (the default) or `dense`.
//
// plan:
// The output is compact JSON (like `terraform show -json`), with attribute
// keys in random order (so a canonicalizer must sort), nested before/after
// objects, JSON-encoded policy strings full of escapes, multi-line scripts,
// non-ASCII text, Go-style \u003c/\u003e/\u0026 escapes, integers and
// non-integer numbers.
//
// dense: the same plan structure, but each resource's attributes are mostly
// small objects (labels, rules, settings of {value, sensitive}, per-zone maps),
// about 4 to 5 keys an object, and about one key in twenty is non-ASCII. Some
// objects hold keys that differ first at a character above U+FFFF (a surrogate
// pair in UTF-16) in one key and at a character in U+E000..U+FFFD in another,
// so their UTF-16 order is not their UTF-8 byte order.

const seed = Number(process.argv[2] ?? 42) >>> 0;
const target = Number(process.argv[3] ?? 20 * 1024 * 1024);
const shape = process.argv[4] ?? 'plan';
if (shape !== 'plan' && shape !== 'dense') {
  process.stderr.write(`gen_plan.mjs: unknown shape ${shape} (plan or dense)\n`);
  process.exit(2);
}

// mulberry32
let state = seed || 1;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += '0123456789abcdef'[int(16)]; return s; };

const words = ['web', 'api', 'db', 'cache', 'queue', 'worker', 'edge', 'auth', 'billing', 'search',
  'logs', 'metrics', 'frontend', 'backend', 'batch', 'stream', 'gateway', 'vault', 'mesh', 'proxy'];
const unicode = ['Zürich', 'São Paulo', 'Kraków', 'Москва', '東京', '서울', 'München', 'Ελλάδα',
  'café ☕', 'naïve résumé', 'emoji 🚀🔥', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'Ünïcødé', 'מרכז נתונים', 'دبي', '北京 数据中心',
  'ﬁle \uE000 private', 'tab\there', 'quote "q"', 'back\\slash', 'ctl \u0001\u001f'];
const regions = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1'];
const types = ['aws_instance', 'aws_s3_bucket', 'aws_iam_role', 'aws_security_group',
  'aws_lambda_function', 'aws_db_instance', 'aws_route53_record', 'kubernetes_deployment'];

function shuffle(obj) {
  const keys = Object.keys(obj);
  for (let i = keys.length - 1; i > 0; i--) { const j = int(i + 1); [keys[i], keys[j]] = [keys[j], keys[i]]; }
  const out = {};
  for (const k of keys) out[k] = obj[k];
  return out;
}

function number() {
  switch (int(8)) {
    case 0: return int(65536);
    case 1: return int(1000) / 4;              // .25 steps
    case 2: return Math.round(rand() * 1e6) / 100; // two decimals
    case 3: return rand() * 1000;              // 16-17 significant digits
    case 4: return -int(1e9);
    case 5: return int(2 ** 31) * 1000;
    case 6: return Number((rand() * 10).toFixed(int(6) + 1));
    default: return int(100);
  }
}

function tags() {
  const t = {};
  const n = 2 + int(6);
  for (let i = 0; i < n; i++) t[pick(['Name', 'env', 'team', 'cost-center', 'owner', 'Project', 'ticket', 'zone', 'description']) + (i > 4 ? i : '')] =
    rand() < 0.3 ? pick(unicode) + ' ' + hex(4) : pick(words) + '-' + hex(6);
  return t;
}

function policy() {
  const st = [];
  for (let i = 0, n = 1 + int(4); i < n; i++)
    st.push({ Sid: 'Stmt' + hex(8), Effect: pick(['Allow', 'Deny']),
      Action: [pick(['s3:GetObject', 's3:PutObject', 'sqs:SendMessage', 'kms:Decrypt', 'logs:*'])],
      Resource: 'arn:aws:s3:::' + pick(words) + '-' + hex(8) + '/*',
      Condition: { StringEquals: { 'aws:PrincipalTag/team': pick(words) } } });
  return JSON.stringify({ Version: '2012-10-17', Statement: st }, null, rand() < 0.5 ? 2 : 0);
}

function attrs(type, name, i) {
  const a = {
    id: rand() < 0.2 ? null : type.split('_')[1] + '-' + hex(17),
    arn: 'arn:aws:' + type.split('_')[1] + ':' + pick(regions) + ':' + (100000000000 + int(8e11)) + ':' + name + '/' + hex(12),
    name: name + '-' + i,
    region: pick(regions),
    tags: tags(),
    tags_all: tags(),
    count: int(50),
    port: int(65536),
    weight: number(),
    ratio: number(),
    threshold: number(),
    enabled: rand() < 0.5,
    deleted: false,
    description: rand() < 0.5 ? pick(unicode) + ' — managed by Terraform' : 'Managed by Terraform',
    user_data: '#!/bin/bash\nset -euo pipefail\necho "hello ' + pick(words) + '" > /etc/motd\n\tsystemctl restart ' + pick(words) + ' && curl -s "https://example.com/?a=1&b=<x>"\n',
    policy: policy(),
    cidr_blocks: Array.from({ length: 1 + int(4) }, () => `10.${int(256)}.${int(256)}.0/24`),
    ingress: Array.from({ length: int(4) }, () => shuffle({
      from_port: int(65536), to_port: int(65536), protocol: pick(['tcp', 'udp', '-1']),
      cidr_blocks: ['0.0.0.0/0'], description: pick(unicode), self: false, ipv6_cidr_blocks: [],
      prefix_list_ids: [], security_groups: [] })),
    timeouts: rand() < 0.5 ? null : { create: '10m', delete: '20m', update: null },
    root_block_device: [{ volume_size: int(500), volume_type: 'gp3', iops: 3000, throughput: 125.5 + int(100), encrypted: true, kms_key_id: '' }],
    environment: [{ variables: Object.fromEntries(Array.from({ length: int(8) }, (_, k) => ['VAR_' + k + '_' + pick(words).toUpperCase(), pick(unicode) + hex(10)])) }],
  };
  return shuffle(a);
}

// Non-ASCII key material. `high` are characters above U+FFFF (UTF-8 lead byte
// F0, UTF-16 surrogates D800..DFFF); `priv` are characters in U+E000..U+FFFD
// (UTF-8 lead bytes EE, EF, UTF-16 code units E000..FFFD). A key from each,
// behind one common prefix, sorts one way by UTF-8 bytes and the other by UTF-16.
const high = ['😀', '🚀', '𝔘', '𝄞', '🔥', '𠀋', '🌍'];
const priv = ['\uE000', '\uE0A1', '\uF8FF', 'ﬁ', 'ﬀ', '＄', '｡', '\uFFFD', '\uFB50'];
const intl = ['größe', 'zürich', 'ключ', 'имя', '名前', '東京', '서울', 'ελλάδα', 'café', 'naïve', 'مفتاح', 'שם'];

function nonAsciiKey() {
  switch (int(4)) {
    case 0: return pick(intl);
    case 1: return pick(intl) + '_' + int(10);
    case 2: return 'k' + pick(high);
    default: return 'k' + pick(priv);
  }
}

function denseKey(base, k) {
  return rand() < 0.1 ? nonAsciiKey() : base + k;
}

function small() {
  switch (int(6)) {
    case 0: return int(1000);
    case 1: return rand() < 0.5;
    case 2: return null;
    case 3: return number();
    case 4: return pick(words) + '-' + hex(16 + int(32));
    default: return (rand() < 0.2 ? pick(unicode) : pick(words)) + ' ' + hex(12 + int(24));
  }
}

// An object of n small members whose keys are mostly `base`+index.
function smallObject(base, n) {
  const o = {};
  for (let k = 0; k < n; k++) o[denseKey(base, k)] = small();
  return o;
}

// Keys that differ at a character above U+FFFF in one and U+E000..U+FFFD in
// the other, after a common prefix.
function mixedOrder() {
  const o = {};
  const prefix = pick(['x', 'key_', 'ä', '名']);
  for (let k = 0, n = 2 + int(3); k < n; k++)
    o[prefix + (k % 2 ? pick(high) : pick(priv)) + (k > 1 ? k : '')] = int(100);
  return o;
}

function denseAttrs(type, name, i) {
  const a = {
    id: type.split('_')[1] + '-' + hex(12),
    name: name + '-' + i,
    region: pick(regions),
    labels: smallObject('l', 3 + int(6)),
    tags: smallObject('t', 2 + int(5)),
    rules: Array.from({ length: 1 + int(3) }, () => shuffle({
      port: int(65536), proto: pick(['tcp', 'udp']), cidr: `10.${int(256)}.${int(256)}.0/24`, allow: rand() < 0.8,
      description: pick(unicode) + ' ' + hex(16) })),
    settings: rand() < 0.5 ? smallObject('s', 2 + int(5)) : { value: smallObject('v', 2 + int(5)), sensitive: rand() < 0.1 },
    zones: Object.fromEntries(Array.from({ length: 1 + int(3) }, (_, k) =>
      [denseKey('z', k), smallObject('p', 3 + int(5))])),
    limits: { cpu: int(64), mem: int(1 << 16), disk: number() },
    user_data: '#!/bin/bash\nset -euo pipefail\n' + Array.from({ length: 4 + int(6) }, () =>
      'echo "' + pick(words) + ' ' + hex(16) + '" >> /etc/' + pick(words) + '.conf\n').join(''),
  };
  if (rand() < 0.3) a.order = mixedOrder();
  return shuffle(a);
}

function unknown(after) {
  const u = {};
  for (const k of Object.keys(after)) if (rand() < 0.2) u[k] = true;
  return u;
}

const doc = {
  format_version: '1.2',
  terraform_version: '1.7.5',
  variables: { region: { value: 'eu-west-1' }, env: { value: 'prod' } },
  resource_changes: [],
  output_changes: {},
  prior_state: { format_version: '1.0', terraform_version: '1.7.5', values: { root_module: {} } },
  configuration: { provider_config: { aws: { name: 'aws', full_name: 'registry.terraform.io/hashicorp/aws', expressions: { region: { references: ['var.region'] } } } } },
  timestamp: '2026-11-27T20:00:00Z',
  errored: false,
};

let size = 2000;
for (let i = 0; size < target; i++) {
  const type = pick(types), name = pick(words) + '_' + pick(words);
  const action = pick([['create'], ['update'], ['delete', 'create'], ['no-op'], ['delete']]);
  const gen = shape === 'dense' ? denseAttrs : attrs;
  const before = action[0] === 'create' ? null : gen(type, name, i);
  const after = action[0] === 'delete' && action.length === 1 ? null : gen(type, name, i);
  const rc = {
    address: `module.${pick(words)}.${type}.${name}[${i}]`,
    module_address: 'module.' + pick(words),
    mode: 'managed',
    type,
    name,
    index: i,
    provider_name: 'registry.terraform.io/hashicorp/aws',
    change: {
      actions: action,
      before,
      after,
      after_unknown: after ? unknown(after) : {},
      before_sensitive: before ? { tags: {}, user_data: true } : false,
      after_sensitive: after ? { tags: {}, user_data: true, policy: false } : false,
    },
  };
  const s = JSON.stringify(rc);
  // plan counts UTF-16 code units (as it always has, so its document stays the
  // same); dense counts bytes.
  size += (shape === 'dense' ? Buffer.byteLength(s) : s.length) + 1;
  doc.resource_changes.push(rc);
  if (i % 50 === 0) doc.output_changes['out_' + i] = { actions: ['create'], before: null, after: number(), after_unknown: false };
}
// Like Go's encoding/json (which Terraform uses), escape <, > and & as \u003c,
// \u003e and \u0026. They occur only inside strings, so this stays valid JSON.
process.stdout.write(JSON.stringify(doc).replace(/[<>&]/g, (c) => '\\u00' + c.charCodeAt(0).toString(16)));
