// Starts the real binaries for a browser test: processes on free loopback
// ports, each with its own temporary directory, stopped when the test ends.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Page } from "@playwright/test";

const root = resolve(__dirname, "..", "..");
export const binDir =
  process.env.RINGSIDE_BIN_DIR ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug");

// Ports below the kernel's ephemeral range (32768 up): a port that
// listen(0) picked goes back to that pool when the probe closes, and an
// outgoing connection of the test's own daemons may take it before the
// daemon meant for it binds. A cursor per process, started from the pid
// and the clock, keeps tests and workers apart.
const FIRST_PORT = 10_000;
const PORT_SPAN = 22_000;
let portCursor = (process.pid * 7919 + Date.now()) % PORT_SPAN;

function listens(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const server = createServer();
    server.unref();
    server.once("error", () => ok(false));
    server.listen(port, "127.0.0.1", () => server.close(() => ok(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_SPAN; tries++) {
    portCursor = (portCursor + 1) % PORT_SPAN;
    const port = FIRST_PORT + portCursor;
    if (await listens(port)) return port;
  }
  throw new Error(`no free loopback port below ${FIRST_PORT + PORT_SPAN}`);
}

export class Daemon {
  // The console's bootstrap admin password, read from its password file.
  password?: string;
  // An API token of the bootstrap admin's (a console) or the cluster token
  // (a coordinator), for the tests' own REST calls.
  token?: string;

  constructor(
    readonly name: string,
    readonly url: string,
    private child: ChildProcess,
  ) {}

  // fetch() with this daemon's API token.
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set("authorization", `Bearer ${this.token}`);
    return fetch(url, { ...init, headers });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((ok) => this.child.once("exit", ok));
    this.child.kill("SIGTERM");
    await exited;
  }
}

async function startDaemon(name: string, command: string, args: string[], url: string, log: string) {
  const out = openSync(log, "w");
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", out, out] });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited early; see ${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return new Daemon(name, url, child);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`${name} not ready after 30s; see ${log}`);
}

export const workDir = () => mkdtempSync(join(tmpdir(), "ringside-e2e-"));

// Where a test cluster's coordinator writes its cluster token.
const tokenFile = (name: string, dir: string) => join(dir, name, "cluster.token");

// Properties every process of one test cluster shares.
function clusterSets(name: string, dir: string, port: number): string[] {
  const ufs = join(dir, name, "ufs");
  mkdirSync(ufs, { recursive: true });
  return [
    "--set", `ringside.cluster.name=${name}`,
    "--set", `ringside.coordinator.address=http://127.0.0.1:${port}`,
    "--set", `ringside.ufs.root=${ufs}`,
    "--set", `ringside.security.cluster.token.file=${tokenFile(name, dir)}`,
    "--set", "ringside.worker.pagestore.size=16MiB",
    "--set", "ringside.worker.pagestore.reserved.size=4MiB",
    "--set", "ringside.worker.heartbeat.interval=200ms",
    "--set", "ringside.worker.failure.detection.timeout=2s",
  ];
}

// Runs the CLI to its end and answers what it printed.
export function ringside(...args: string[]): string {
  return execFileSync(join(binDir, "ringside"), args, { cwd: root, encoding: "utf8" });
}

// A coordinator; given the port of an earlier one, it restarts that
// cluster (same port, same metastore). `sets` are more `--set k=v`s.
export async function startCoordinator(name: string, dir: string, port?: number, sets: string[] = []): Promise<Daemon> {
  port ??= await freePort();
  const coordinator = await startDaemon(
    `coordinator ${name}`,
    join(binDir, "ringside"),
    [
      ...clusterSets(name, dir, port),
      "--set", "ringside.coordinator.bind.host=127.0.0.1",
      "--set", `ringside.coordinator.port=${port}`,
      "--set", `ringside.coordinator.metastore.dir=${join(dir, name, "metastore")}`,
      ...sets.flatMap((set) => ["--set", set]),
      "process", "start", "coordinator",
    ],
    `http://127.0.0.1:${port}`,
    join(dir, `coordinator-${name}-${Date.now()}.log`),
  );
  const file = sets.find((set) => set.startsWith("ringside.security.cluster.token.file="))?.split("=")[1];
  coordinator.token = readFileSync(file ?? tokenFile(name, dir), "utf8").trim();
  return coordinator;
}

export async function startWorker(cluster: string, coordinator: Daemon, worker: string, dir: string, sets: string[] = []): Promise<Daemon> {
  const port = await freePort();
  const s3 = await freePort();
  const home = join(dir, cluster, worker);
  return startDaemon(
    `worker ${worker}`,
    join(binDir, "ringside"),
    [
      ...clusterSets(cluster, dir, Number(new URL(coordinator.url).port)),
      "--set", "ringside.worker.bind.host=127.0.0.1",
      "--set", `ringside.worker.port=${port}`,
      "--set", `ringside.worker.s3.port=${s3}`,
      "--set", `ringside.worker.pagestore.dir=${join(home, "pages")}`,
      "--set", `ringside.worker.identity.uuid.file.path=${join(home, "identity")}`,
      ...sets.flatMap((set) => ["--set", set]),
      "process", "start", "worker",
    ],
    `http://127.0.0.1:${port}`,
    join(dir, `worker-${cluster}-${worker}.log`),
  );
}

// A console; `extra` are more command-line arguments. Its bootstrap admin
// password goes to a file (not the log), read back into `password`.
export async function startConsole(dir: string, pollInterval = "1s", extra: string[] = [], port?: number): Promise<Daemon> {
  port ??= await freePort();
  const passwordFile = join(dir, "console", "bootstrap-password");
  const console_ = await startDaemon(
    "console",
    join(binDir, "ringside-console"),
    [
      "--listen", `127.0.0.1:${port}`,
      "--data-dir", join(dir, "console"),
      "--poll-interval", pollInterval,
      "--poll-timeout", "1s",
      "--site-root", join(root, "target", "site"),
      "--bootstrap-password-file", passwordFile,
      ...extra,
    ],
    `http://127.0.0.1:${port}`,
    join(dir, "console.log"),
  );
  if (existsSync(passwordFile)) {
    console_.password = readFileSync(passwordFile, "utf8").trim();
    const login = await fetch(`${console_.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: console_.password }),
    });
    if (!login.ok) throw new Error(`log in as admin: ${login.status} ${await login.text()}`);
    const me = await login.json();
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
    const issued = await fetch(`${console_.url}/api/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, "x-csrf-token": me.csrf_token },
      body: JSON.stringify({ name: "e2e", scopes: ["read", "write"] }),
    });
    if (issued.status !== 201) throw new Error(`issue a token: ${issued.status} ${await issued.text()}`);
    console_.token = (await issued.json()).token;
  }
  return console_;
}

// Logs the page in as the bootstrap admin through the login form.
export async function logIn(page: Page, console_: Daemon): Promise<void> {
  await page.goto(`${console_.url}/login`);
  await page.locator("input[name=username]").fill("admin");
  await page.locator("input[name=password]").fill(console_.password ?? "");
  await page.locator("[data-testid=login-form] button[type=submit]").click();
  await page.waitForURL(`${console_.url}/`);
}

// A real OpenID provider (npm oidc-provider, end2end/oidc/provider.mjs) with
// the shipped test accounts, redirecting back to `redirectUri`.
export async function startIdp(dir: string, redirectUri: string): Promise<{ issuer: string; stop: () => void }> {
  const config = JSON.parse(readFileSync(join(root, "end2end", "oidc", "config.json"), "utf8"));
  for (const client of config.clients) {
    if (client.client_id === "ringside-console") client.redirect_uris = [redirectUri];
  }
  const file = join(dir, "idp.json");
  writeFileSync(file, JSON.stringify(config));
  const child = spawn("node", [join(root, "end2end", "oidc", "provider.mjs"), "--config", file], {
    cwd: root,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const issuer = await new Promise<string>((ok, fail) => {
    let seen = "";
    child.stdout!.on("data", (chunk) => {
      seen += chunk.toString();
      const match = seen.match(/ issuer (\S+)/);
      if (match) ok(match[1]);
    });
    child.once("exit", () => fail(new Error(`oidc-provider exited: ${seen}`)));
  });
  return { issuer, stop: () => child.kill("SIGTERM") };
}

// Logs the page in through the identity provider as `user` (the test
// provider accepts any password).
export async function logInWithSso(page: Page, console_: Daemon, user: string): Promise<void> {
  await page.goto(`${console_.url}/login`);
  await page.getByTestId("login-sso").click();
  await page.locator("input[name=login]").fill(user);
  await page.locator("input[name=password]").fill("any-password");
  await page.locator("button[type=submit]").click();
  await page.locator("button[type=submit]", { hasText: "Continue" }).click();
  await page.waitForURL(`${console_.url}/`);
}
