#!/usr/bin/env node
// Derives the OpenAPI description the contract test serves with prism: GitHub's
// own REST description from the pinned @octokit/openapi package, trimmed to the
// webhook paths and the components they reference. The full description takes
// prism about 10 s and 300 MB to load; the trimmed one about 1.5 s.
//
// Usage: node derive-spec.js [OUTPUT]   (default: spec/github-hooks.json)
"use strict";

const fs = require("fs");
const path = require("path");

const source = require.resolve("@octokit/openapi/generated/api.github.com.json");
const output = path.resolve(__dirname, process.argv[2] || "spec/github-hooks.json");

// Repository and organization hooks, the GitHub App's hook, and the minting of
// installation access tokens (InstallationToken).
const keepPath = (p) =>
  /^\/(repos\/\{owner\}\/\{repo\}|orgs\/\{org\})\/hooks(\/|$)/.test(p) ||
  /^\/app\/hook\//.test(p) ||
  p === "/app/installations/{installation_id}/access_tokens";

const full = JSON.parse(fs.readFileSync(source, "utf8"));
const paths = {};
for (const [p, item] of Object.entries(full.paths)) {
  if (keepPath(p)) paths[p] = item;
}
if (Object.keys(paths).length === 0) {
  throw new Error(`no webhook paths found in ${source}`);
}

// Walk every "$ref": "#/components/<kind>/<name>" reachable from the kept paths.
const components = {};
const seen = new Set();
const pending = [paths];
while (pending.length > 0) {
  const node = pending.pop();
  if (Array.isArray(node)) {
    pending.push(...node);
    continue;
  }
  if (node === null || typeof node !== "object") continue;
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string") {
      const match = /^#\/components\/([^/]+)\/(.+)$/.exec(value);
      if (!match) throw new Error(`unsupported $ref ${value}`);
      const [, kind, name] = match;
      if (seen.has(value)) continue;
      seen.add(value);
      const target = full.components[kind] && full.components[kind][name];
      if (target === undefined) throw new Error(`dangling $ref ${value}`);
      (components[kind] ||= {})[name] = target;
      pending.push(target);
    } else {
      pending.push(value);
    }
  }
}

const trimmed = {
  openapi: full.openapi,
  info: full.info,
  servers: full.servers,
  paths,
  components,
};
fs.mkdirSync(path.dirname(output), { recursive: true });
const temporary = `${output}.tmp`;
fs.writeFileSync(temporary, JSON.stringify(trimmed));
fs.renameSync(temporary, output);
console.log(`derived ${Object.keys(paths).length} paths, ${seen.size} components from @octokit/openapi ${full.info.version} into ${path.relative(process.cwd(), output)}`);
