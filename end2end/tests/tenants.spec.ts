// The reference guide's multi-tenancy workflow, end to end: Alice (admin of
// group platform) logs in through the identity provider and changes tenant
// `pay`'s TTL on two clusters; the request passes the JWT and policy checks,
// both coordinators apply it (they verify the console's signature), and the
// workers drop the cached pages past the new TTL. Carol (admin of group
// analytics) tries the same from her browser: 403, nothing changes; the
// decision log and the audit trail show both.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import {
  Daemon,
  freePort,
  logInWithSso,
  startConsole,
  startCoordinator,
  startIdp,
  startWorker,
  workDir,
} from "./harness";

let dir: string;
let idp: { issuer: string; stop: () => void };
let console_: Daemon;
const daemons: Daemon[] = [];
const workers: Record<string, Daemon> = {};
const coordinators: Record<string, Daemon> = {};

const policy = (ttl: number) => ({ name: "pay", group: "platform", prefixes: ["/pay"], ttl_seconds: ttl });

test.beforeEach(async () => {
  dir = workDir();
  const port = await freePort();
  idp = await startIdp(dir, `http://127.0.0.1:${port}/api/v1/auth/callback`);
  writeFileSync(join(dir, "client-secret"), "console-test-secret\n");
  console_ = await startConsole(
    dir,
    "1s",
    [
      "--oidc-issuer", idp.issuer,
      "--oidc-client-secret-file", join(dir, "client-secret"),
      "--oidc-roles-claim", "realm_access.roles",
    ],
    port,
  );
  writeFileSync(join(dir, "cluster.token"), "e2e-cluster-secret-0123456789");
  const guarded = [
    `ringside.security.cluster.token.file=${join(dir, "cluster.token")}`,
    `ringside.coordinator.security.console.jwks.url=${console_.url}/api/v1/jwks.json`,
    "ringside.worker.tenant.sync.interval=1s",
  ];
  for (const name of ["pay-eu", "pay-us"]) {
    const ufs = join(dir, name, "ufs", "pay");
    mkdirSync(ufs, { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(ufs, `ledger-${i}.bin`), Buffer.alloc(200_000, i + 1));
    const coordinator = await startCoordinator(name, dir, undefined, guarded);
    coordinators[name] = coordinator;
    workers[name] = await startWorker(name, coordinator, "w1", dir, guarded);
    daemons.push(coordinator, workers[name]);
    const res = await console_.fetch(`${console_.url}/api/v1/clusters`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, coordinator_url: coordinator.url, labels: { group: "platform" } }),
    });
    expect(res.status).toBe(201);
  }
  // The tenant, owned by platform, with a long TTL, on both clusters.
  const op = await console_.fetch(`${console_.url}/api/v1/operations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      action: { type: "set_tenant_policy", policy: policy(86_400) },
      targets: { kind: "clusters", names: ["pay-eu", "pay-us"] },
    }),
  });
  expect(op.status).toBe(201);
});

test.afterEach(async () => {
  for (const daemon of daemons.splice(0)) await daemon.stop();
  await console_?.stop();
  idp?.stop();
});

async function cachedBytes(cluster: string): Promise<number> {
  const view = await (await fetch(`${workers[cluster].url}/api/v1/tenants`)).json();
  return view.tenants.find((t: { name: string }) => t.name === "pay")?.used_bytes ?? 0;
}

async function ttlOn(cluster: string): Promise<number | undefined> {
  const view = await (await fetch(`${coordinators[cluster].url}/api/v1/tenants`)).json();
  return view.tenants.find((t: { name: string }) => t.name === "pay")?.ttl_seconds;
}

test("a tenant's TTL changed on two clusters by its group's admin, refused to another group's", async ({ page, browser }, testInfo) => {
  // Cache the tenant's files on both workers.
  for (const cluster of ["pay-eu", "pay-us"]) {
    await expect.poll(() => ttlOn(cluster), { timeout: 20_000 }).toBe(86_400);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${workers[cluster].url}/api/v1/files/pay/ledger-${i}.bin`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(200_000);
    }
    await expect.poll(() => cachedBytes(cluster), { timeout: 15_000 }).toBeGreaterThan(0);
  }

  // Alice logs in through the provider and changes the TTL.
  await logInWithSso(page, console_, "alice");
  await expect(page.getByTestId("whoami")).toContainText("alice@ringside.test (admin)");
  await page.goto(`${console_.url}/tenants`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  const row = page.locator('[data-testid=tenant-row][data-tenant="pay"]');
  await expect(row).toContainText("platform");
  await expect(row.getByTestId("tenant-clusters")).toContainText("pay-eu: TTL 1d");
  await row.getByTestId("tenant-edit").click();
  await page.getByTestId("tenant-ttl").fill("1s");
  await expect(page.getByTestId("tenant-cluster")).toHaveCount(2);
  await page.screenshot({ path: testInfo.outputPath("tenants.png"), fullPage: true });
  await page.getByTestId("tenant-apply").click();
  await page.waitForURL(/\/operations\/[0-9a-f-]+$/);
  await expect(page.getByTestId("op-state").first()).toHaveText(/succeeded/i, { timeout: 30_000 });

  // Both coordinators apply it; the workers' TTL pass drops the pages.
  for (const cluster of ["pay-eu", "pay-us"]) {
    await expect.poll(() => ttlOn(cluster), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => cachedBytes(cluster), { timeout: 20_000 }).toBe(0);
  }

  // Carol, admin of analytics, does not see the tenant, and the same change
  // from her browser session is refused.
  const carolContext = await browser.newContext();
  const carol = await carolContext.newPage();
  await logInWithSso(carol, console_, "carol");
  await carol.goto(`${console_.url}/tenants`);
  await expect(carol.getByTestId("tenants-table")).toBeVisible();
  await expect(carol.locator("[data-testid=tenant-row]")).toHaveCount(0);
  const refused = await carol.evaluate(async (request) => {
    const res = await fetch("/api/ui/start_operation", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ request }),
    });
    return { status: res.status, body: await res.text() };
  }, { action: { type: "set_tenant_policy", policy: policy(7 * 86_400) }, targets: { kind: "clusters", names: ["pay-eu", "pay-us"] } });
  expect(refused.status).toBe(403);
  expect(refused.body).toContain("carol may not tenant.update on tenant pay");
  await carolContext.close();
  for (const cluster of ["pay-eu", "pay-us"]) expect(await ttlOn(cluster)).toBe(1);

  // The decision log has both, and the audit trail too.
  const decisions = await (await console_.fetch(`${console_.url}/api/v1/policy/decisions`)).json();
  const tenantUpdates = decisions.filter((d: { action: string }) => d.action === "tenant.update");
  expect(tenantUpdates.some((d: { user: string; result: string }) => d.user === "alice" && d.result === "allow")).toBe(true);
  expect(tenantUpdates.some((d: { user: string; result: string }) => d.user === "carol" && d.result === "deny")).toBe(true);
  const audit = await (await console_.fetch(`${console_.url}/api/v1/audit`)).json();
  const entries = audit.entries.map((e: { actor: string; action: string; result: { status: string; code?: string } }) => [e.actor, e.action, e.result.code ?? e.result.status]);
  expect(entries).toContainEqual(["alice", "operation.create", "ok"]);
  expect(entries).toContainEqual(["carol", "tenant.update", "forbidden"]);

  // The Operations page builds the same tenant change too, and previews it.
  await page.goto(`${console_.url}/operations`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await page.getByTestId("op-action").selectOption("set_tenant_policy");
  await page.getByTestId("op-tenant").fill("pay");
  await page.getByTestId("op-tenant-group").fill("platform");
  await page.getByTestId("op-tenant-prefixes").fill("/pay");
  await page.getByTestId("op-tenant-ttl").fill("2s");
  await page.getByTestId("op-targets").selectOption("clusters");
  await page.getByTestId("op-names").fill("pay-eu, pay-us");
  await page.getByTestId("op-preview").click();
  await expect(page.getByTestId("op-preview-description")).toContainText("tenant pay on 2 clusters");

  // The policy page shows the decisions to Alice.
  await page.goto(`${console_.url}/policy`);
  await expect(page.locator('[data-testid=decision-row][data-user="carol"][data-result="deny"]').first()).toBeVisible();
});
