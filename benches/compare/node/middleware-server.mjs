// The Node.js peer of benches/compare/e2e: @octokit/webhooks' own Node middleware
// on node:http, with one no-op handler for every event, on 127.0.0.1.
//
//   GITHUB_WEBHOOK_SECRET=... node middleware-server.mjs [PORT]   (default 3000)
//
// Prints `listening on http://127.0.0.1:PORT/` to standard error once it listens.
// A bad signature is answered 400 (the middleware's choice), a good one 200.
import { createServer } from "node:http";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";

const secret = process.env.GITHUB_WEBHOOK_SECRET;
if (!secret) {
  console.error("set GITHUB_WEBHOOK_SECRET to the (non-empty) secret deliveries are signed with");
  process.exit(1);
}
const port = Number.parseInt(process.argv[2] ?? "3000", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`not a port: ${process.argv[2]}`);
  process.exit(1);
}

// The defaults, as the @octokit/webhooks README sets them up (its logger prints
// rejected deliveries to standard error; the bench sends one on purpose).
const webhooks = new Webhooks({ secret });
webhooks.onAny(() => {});
const middleware = createNodeMiddleware(webhooks, { path: "/" });

const server = createServer(middleware);
server.listen(port, "127.0.0.1", () => {
  console.error(`listening on http://127.0.0.1:${server.address().port}/`);
});
