// Reference canonicalizer for the benchmark: the npm `canonicalize` package.
//   node bench/canon_node.mjs FILE > out.json
import { readFileSync, writeSync } from 'node:fs';
import canonicalize from 'canonicalize';

const text = readFileSync(process.argv[2], 'utf8');
const out = Buffer.from(canonicalize(JSON.parse(text)), 'utf8');
for (let off = 0; off < out.length;) off += writeSync(1, out, off);
