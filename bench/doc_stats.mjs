// Counts what a JSON document holds, for the canonicalization benchmark:
//   node bench/doc_stats.mjs FILE
// prints the number of objects, keys, non-ASCII keys, keys with characters
// above U+FFFF, and objects whose keys sort differently by UTF-16 code units
// (RFC 8785) than by UTF-8 bytes.
import { readFileSync } from 'node:fs';

const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let objects = 0, keys = 0, nonAscii = 0, astral = 0, reordered = 0;
const utf16 = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const utf8 = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const stack = [doc];
while (stack.length) {
  const v = stack.pop();
  if (v === null || typeof v !== 'object') continue;
  if (Array.isArray(v)) { for (const x of v) stack.push(x); continue; }
  objects++;
  const ks = Object.keys(v);
  if (ks.some((k) => /[^\x00-\x7f]/.test(k))) {
    const a = [...ks].sort(utf16), b = [...ks].sort(utf8);
    if (a.some((k, i) => k !== b[i])) reordered++;
  }
  for (const k of ks) {
    keys++;
    if (/[^\x00-\x7f]/.test(k)) nonAscii++;
    if (/[\ud800-\udbff]/.test(k)) astral++;
    stack.push(v[k]);
  }
}
console.log(`objects ${objects}, keys ${keys}, non-ASCII keys ${nonAscii}, keys with characters above U+FFFF ${astral}, objects ordered differently by UTF-16 than by UTF-8 ${reordered}`);
