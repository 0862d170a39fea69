// Generates webhook payloads from every schema variant listed in sources.json
// (@octokit/openapi-webhooks: github.com, GHEC, GHES, current and historical) with
// json-schema-faker and fixed seeds, for octohook's schema tests.
//
//   node corpora/generate-payloads.mjs OUT_DIR [PER_ACTION]
//
// Writes OUT_DIR/<variant>/<event>.<action>.json (or <event>.json for events without
// actions), where <variant> names the schema file (`openapi-webhooks-12.1.0-ghes-3.19`):
// a JSON object holding PER_ACTION payloads (default 4). They alternate between only
// the required fields and every optional field, then optional fields with other
// probabilities. Same seeds, same output. Needs `npm ci` in corpora/ first.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, perActionArg] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node corpora/generate-payloads.mjs OUT_DIR [PER_ACTION]");
  process.exit(2);
}
const perAction = Number(perActionArg ?? 4);

let generateSync;
try {
  ({ generateSync } = await import("json-schema-faker"));
} catch (error) {
  console.error(`generate-payloads: json-schema-faker is not installed (run: cd corpora && npm ci): ${error.message}`);
  process.exit(1);
}

const sources = JSON.parse(readFileSync(join(here, "sources.json"), "utf8"));
const probabilities = [0, 1, 0, 1, 0.25, 0.5, 0.5, 0.75, 1, 0];
let files = 0;
let payloads = 0;
let variants = 0;
for (const { package: pkg, file } of sources.schemas) {
  const packageJson = JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"), "utf8"));
  const doc = JSON.parse(readFileSync(join(here, "node_modules", pkg, file), "utf8"));
  const variant = `openapi-webhooks-${packageJson.version}-${file.replace(/^generated\//, "").replace(/\.json$/, "")}`;
  const variantDir = join(outDir, variant);
  mkdirSync(variantDir, { recursive: true });
  variants += 1;
  for (const [name, hook] of Object.entries(doc.webhooks)) {
    const post = hook.post;
    const schema = post.requestBody.content["application/json"].schema;
    // `check-run/requested-action`: event `check_run`, action `requested_action`.
    const [eventPart, actionPart] = post.operationId.split("/");
    const event = eventPart.replaceAll("-", "_");
    const action = actionPart?.replaceAll("-", "_");
    const generated = [];
    for (let i = 0; i < perAction; i++) {
      const optionalsProbability = probabilities[i % probabilities.length];
      generated.push(
        generateSync(
          { ...schema, components: doc.components },
          { seed: 1000 + i, optionalsProbability, maxDepth: 10 },
        ),
      );
    }
    const out = action ? `${event}.${action}.json` : `${event}.json`;
    writeFileSync(
      join(variantDir, out),
      JSON.stringify({ variant, webhook: name, event, action: action ?? null, optionals: probabilities.slice(0, perAction), payloads: generated }),
    );
    files += 1;
    payloads += generated.length;
  }
}
console.log(`generate-payloads: ${payloads} payloads for ${files} event-actions of ${variants} schema variants in ${outDir}`);
