#!/usr/bin/env node
// Parses every .tf file under a directory with @cdktf/hcl2json (HashiCorp's HCL
// parser compiled to WebAssembly) and prints {"relative/path.tf": <json>, ...}.
// Exits 1 when a file does not parse.
//
// With --each DIR..., parses several module copies in one process (the
// WebAssembly start-up dominates) and prints {DIR: {...} or {"__error__": msg}}.
"use strict";
const fs = require("fs");
const path = require("path");
const { parse } = require("@cdktf/hcl2json");

function tfFiles(dir, base = dir) {
  let out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out = out.concat(tfFiles(p, base));
    else if (e.isFile() && e.name.endsWith(".tf")) out.push(path.relative(base, p));
  }
  return out;
}

async function parseDir(root) {
  const result = {};
  for (const rel of tfFiles(root)) {
    try {
      result[rel] = await parse(rel, fs.readFileSync(path.join(root, rel), "utf8"));
    } catch (e) {
      throw new Error(`${rel}: does not parse: ${String(e.message || e).split("\n")[0]}`);
    }
  }
  return result;
}

(async () => {
  const args = process.argv.slice(2);
  if (args[0] === "--each") {
    const all = {};
    for (const d of args.slice(1)) {
      try {
        all[d] = await parseDir(d);
      } catch (e) {
        all[d] = { __error__: e.message };
      }
    }
    process.stdout.write(JSON.stringify(all) + "\n");
    return;
  }
  if (args.length !== 1) {
    console.error("usage: hcl2json.js DIR | hcl2json.js --each DIR...");
    process.exit(2);
  }
  try {
    process.stdout.write(JSON.stringify(await parseDir(args[0]), null, 1) + "\n");
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
})();
