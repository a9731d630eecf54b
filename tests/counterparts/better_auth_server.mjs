// A stock Better Auth (organization, bearer and jwt plugins, in-memory store) on
// 127.0.0.1:$PORT, for the tests that hold devauth's organization routes against it.
// Nothing here changes how Better Auth answers: it is the library as a deployment
// would configure it, plus a /health answer the tests wait for.
import http from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt, organization } from "better-auth/plugins";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error("better_auth_server: set PORT to the port to listen on");
  process.exit(2);
}
const baseURL = `http://127.0.0.1:${port}`;

// One empty table per model the three plugins use.
const MODELS = [
  "user", "session", "account", "verification", "organization",
  "member", "invitation", "team", "teamMember", "jwks",
];
const store = Object.fromEntries(MODELS.map((model) => [model, []]));

const auth = betterAuth({
  baseURL,
  // A test-only secret: this server holds throwaway users in memory and nothing else.
  secret: process.env.BETTER_AUTH_SECRET || "counterpart-test-secret-7f3a9c1e5b2d8046af1c",
  database: memoryAdapter(store),
  emailAndPassword: {
    enabled: true,
    // A deployment with email verification on answers a taken email with a made-up user.
    requireEmailVerification: process.env.REQUIRE_EMAIL_VERIFICATION === "true",
  },
  // Tests sign up many users quickly from one address.
  rateLimit: { enabled: false },
  plugins: [organization(), bearer(), jwt()],
});

const handle = toNodeHandler(auth);
const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: true, service: "better-auth" }));
    return;
  }
  handle(req, res);
});
server.listen(port, "127.0.0.1", () => console.log(`better-auth listening on ${baseURL}`));

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
