// Generates webhook payloads from the pinned schema (@octokit/openapi-webhooks) with
// json-schema-faker and fixed seeds, for octohook's schema tests.
//
//   node corpora/generate-payloads.mjs OUT_DIR [PER_ACTION]
//
// Writes OUT_DIR/<event>.<action>.json (or <event>.json for events without actions):
// a JSON array of PER_ACTION payloads (default 10). The first three carry only the
// required fields, the rest optional fields with growing probability. Same seeds,
// same output. Needs `npm ci` in corpora/ first.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, perActionArg] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node corpora/generate-payloads.mjs OUT_DIR [PER_ACTION]");
  process.exit(2);
}
const perAction = Number(perActionArg ?? 10);

let generateSync;
try {
  ({ generateSync } = await import("json-schema-faker"));
} catch (error) {
  console.error(`generate-payloads: json-schema-faker is not installed (run: cd corpora && npm ci): ${error.message}`);
  process.exit(1);
}

const schemaPath = join(here, "node_modules/@octokit/openapi-webhooks/generated/api.github.com.json");
const doc = JSON.parse(readFileSync(schemaPath, "utf8"));
mkdirSync(outDir, { recursive: true });

const probabilities = [0, 0, 0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1];
let files = 0;
let payloads = 0;
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
  const file = action ? `${event}.${action}.json` : `${event}.json`;
  writeFileSync(join(outDir, file), JSON.stringify({ webhook: name, event, action: action ?? null, payloads: generated }));
  files += 1;
  payloads += generated.length;
}
console.log(`generate-payloads: ${payloads} payloads for ${files} event-actions in ${outDir}`);
