// Times @octokit/webhooks-methods' verify(secret, payload, signature) per body
// size; benches/compare/verify runs it.
//
// Usage: node verify-throughput.mjs [--seconds S] [--sizes 64,1024,...]
// Prints the same tab-separated lines as verify-rs: `sig<TAB>size<TAB>sha256=<hex>`
// and `node-webhooks-methods<TAB>size<TAB>ns_per_op` (median over batches).
// Exits with status 2 if verify accepts a wrong signature or rejects a right one.

import { createHmac } from "node:crypto";
import { verify } from "@octokit/webhooks-methods";

const SECRET = "It's a Secret to Everybody";
const NAME = "node-webhooks-methods";
const TARGET_BATCHES = 20;
const MIN_BATCHES = 5;

function fail(message, status) {
  process.stderr.write(`verify-throughput.mjs: ${message}\n`);
  process.exit(status);
}

function parseOptions(argv) {
  const options = {
    seconds: 1.0,
    sizes: [64, 1 << 10, 8 << 10, 64 << 10, 1 << 20, 25 << 20],
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [arg, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fail(`${arg} needs a value`, 64);
    if (arg === "--seconds") {
      options.seconds = Number(value);
      if (!(options.seconds > 0)) fail(`--seconds: not a positive number: ${value}`, 64);
    } else if (arg === "--sizes") {
      options.sizes = value.split(",").map(Number);
      if (options.sizes.some((n) => !Number.isInteger(n) || n < 32)) {
        fail(`--sizes: not sizes of at least 32: ${value}`, 64);
      }
    } else {
      fail(`unknown argument: ${arg}`, 64);
    }
  }
  return options;
}

// The same bytes verify-rs builds: a JSON object of exactly `len` bytes.
function jsonBody(len) {
  const head = '{"action":"opened","padding":"';
  const tail = '"}';
  const fill = "abcdefghijklmnopqrstuvwxyz0123456789";
  const n = len - head.length - tail.length;
  const padding = fill.repeat(Math.ceil(n / fill.length)).slice(0, n);
  return head + padding + tail;
}

function flipLastDigit(signature) {
  const last = signature.at(-1) === "0" ? "1" : "0";
  return signature.slice(0, -1) + last;
}

// Median nanoseconds per call over batches filling at least `seconds`, after a
// warm-up of a fifth of it. Every call must resolve to true.
async function measure(seconds, op) {
  const budget = BigInt(Math.round(seconds * 1e9));
  let start = process.hrtime.bigint();
  let warmOps = 0;
  while (warmOps === 0 || process.hrtime.bigint() - start < budget / 5n) {
    if ((await op()) !== true) return null;
    warmOps += 1;
  }
  const perOp = Number(process.hrtime.bigint() - start) / warmOps;
  const batch = Math.max(1, Math.floor(Number(budget) / TARGET_BATCHES / perOp));
  const samples = [];
  start = process.hrtime.bigint();
  while (samples.length < MIN_BATCHES || process.hrtime.bigint() - start < budget) {
    const batchStart = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) {
      if ((await op()) !== true) return null;
    }
    samples.push(Number(process.hrtime.bigint() - batchStart) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const options = parseOptions(process.argv.slice(2));
for (const len of options.sizes) {
  const body = jsonBody(len);
  if (Buffer.byteLength(body) !== len) fail(`body is not ${len} bytes`, 2);
  // Signed with node:crypto directly, not with the library under test.
  const signature = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  const accepts = await verify(SECRET, body, signature);
  const rejects = !(await verify(SECRET, body, flipLastDigit(signature)));
  if (!(accepts === true && rejects)) {
    fail(`${len}-byte body: correct signature accepted: ${accepts}, wrong one rejected: ${rejects}`, 2);
  }
  process.stdout.write(`sig\t${len}\t${signature}\n`);
  const ns = await measure(options.seconds, () => verify(SECRET, body, signature));
  if (ns === null) fail(`${len}-byte body: rejected a correct signature while timing`, 2);
  process.stdout.write(`${NAME}\t${len}\t${ns.toFixed(1)}\n`);
}
