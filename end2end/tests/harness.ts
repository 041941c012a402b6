// Starts the real binaries for a browser test: processes on free loopback
// ports, each with its own temporary directory, stopped when the test ends.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "..", "..");
export const binDir =
  process.env.RINGSIDE_BIN_DIR ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug");

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

export class Daemon {
  constructor(
    readonly name: string,
    readonly url: string,
    private child: ChildProcess,
  ) {}

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

// Properties every process of one test cluster shares.
function clusterSets(name: string, dir: string, port: number): string[] {
  const ufs = join(dir, name, "ufs");
  mkdirSync(ufs, { recursive: true });
  return [
    "--set", `ringside.cluster.name=${name}`,
    "--set", `ringside.coordinator.address=http://127.0.0.1:${port}`,
    "--set", `ringside.ufs.root=${ufs}`,
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
  return startDaemon(
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
}

export async function startWorker(cluster: string, coordinator: Daemon, worker: string, dir: string): Promise<Daemon> {
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
      "process", "start", "worker",
    ],
    `http://127.0.0.1:${port}`,
    join(dir, `worker-${cluster}-${worker}.log`),
  );
}

export async function startConsole(dir: string, pollInterval = "1s"): Promise<Daemon> {
  const port = await freePort();
  return startDaemon(
    "console",
    join(binDir, "ringside-console"),
    [
      "--listen", `127.0.0.1:${port}`,
      "--data-dir", join(dir, "console"),
      "--poll-interval", pollInterval,
      "--poll-timeout", "1s",
      "--site-root", join(root, "target", "site"),
    ],
    `http://127.0.0.1:${port}`,
    join(dir, "console.log"),
  );
}
