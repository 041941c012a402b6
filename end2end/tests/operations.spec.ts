import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { Daemon, logIn, ringside, startConsole, startCoordinator, startWorker, workDir } from "./harness";

let dir: string;
let console_: Daemon;
let daemons: Daemon[] = [];

test.beforeEach(async () => {
  dir = workDir();
  console_ = await startConsole(dir);
});

test.afterEach(async () => {
  for (const d of daemons.reverse()) await d.stop();
  daemons = [];
  await console_?.stop();
});

async function register(name: string, url: string, labels: Record<string, string>, accessToken?: string) {
  const res = await console_.fetch(`${console_.url}/api/v1/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, coordinator_url: url, labels, access_token: accessToken }),
  });
  expect(res.status).toBe(201);
}

test("a load on every labelled cluster, a deployment license applied to three, the dashboard and the audit trail", async ({ page }, testInfo) => {
  await logIn(page, console_);
  // A vendor key, and three clusters that trust it, each with data and a worker.
  const key = join(dir, "vendor.key");
  ringside("license", "keygen", "--out", key);
  const publicKey = readFileSync(join(dir, "vendor.pub"), "utf8").trim();
  const names = ["ops-a", "ops-b", "ops-c"];
  for (const name of names) {
    mkdirSync(join(dir, name, "ufs", "data"), { recursive: true });
    writeFileSync(join(dir, name, "ufs", "data", "f.bin"), Buffer.alloc(200_000, 7));
    const coordinator = await startCoordinator(name, dir, undefined, [`ringside.license.verification.key=${publicKey}`]);
    daemons.push(coordinator, await startWorker(name, coordinator, "w1", dir));
    await register(name, coordinator.url, { tier: "gold" }, coordinator.token);
  }
  await register("ops-other", "http://127.0.0.1:1", { tier: "bronze" });

  // The builder previews where it runs, then starts it.
  await page.goto(`${console_.url}/operations`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await page.getByTestId("op-selector").fill("tier=gold");
  await page.getByTestId("op-path").fill("/data");
  await page.getByTestId("op-preview").click();
  await expect(page.getByTestId("op-preview-description")).toContainText("Runs on these 3 clusters: load /data on 3 clusters");
  await page.getByTestId("op-start").click();
  await expect(page).toHaveURL(/\/operations\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("op-state")).toHaveText("SUCCEEDED");
  const targets = page.getByTestId("op-target");
  await expect(targets).toHaveCount(3);
  for (const name of names) {
    const target = page.locator(`[data-testid=op-target][data-cluster=${name}]`);
    await expect(target).toHaveAttribute("data-state", "SUCCEEDED");
    await expect(target).toContainText("LOAD job");
  }
  await page.screenshot({ path: testInfo.outputPath("operation.png"), fullPage: true });

  // A deployment license for the three, uploaded once and applied to them.
  const licenseFile = join(dir, "deployment.license");
  ringside(
    "license", "issue", "--key", key, "--customer", "ACME", "--kind", "deployment",
    ...names.flatMap((n) => ["--cluster", n]), "--days", "20", "--max-workers", "10",
    "--id", "L-E2E-1", "--out", licenseFile,
  );
  await page.goto(`${console_.url}/licenses`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await page.getByTestId("license-token").fill(readFileSync(licenseFile, "utf8"));
  await page.getByTestId("license-upload").click();
  await expect(page.getByTestId("license-uploaded")).toContainText("Uploaded L-E2E-1");
  const uploaded = page.locator("[data-testid=uploaded-license][data-id=L-E2E-1]");
  await expect(uploaded).toContainText("ops-a, ops-b, ops-c");
  await uploaded.getByTestId("license-apply").click();
  await expect(page).toHaveURL(/\/operations\//);
  await expect(page.getByTestId("op-description")).toHaveText("apply license L-E2E-1 on 3 clusters");
  await expect(page.getByTestId("op-state")).toHaveText("SUCCEEDED");

  // The dashboard shows each cluster licensed, expiring within 30 days: an alert.
  await page.goto(`${console_.url}/licenses`);
  for (const name of names) {
    const row = page.locator(`[data-testid=license-row][data-cluster=${name}]`);
    await expect(row).toHaveAttribute("data-state", "valid");
    await expect(row).toContainText("L-E2E-1");
    await expect(row.getByTestId("license-days-left")).toHaveText(/^(19|20)$/);
  }
  await expect(page.getByTestId("license-alert").first()).toContainText("license expires in");
  await expect(page.getByTestId("license-expiry-chart").locator("svg")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("licenses.png"), fullPage: true });

  // The fleet counts them as expiring and says why; a cluster's page shows
  // its license and the properties its coordinator runs with.
  await page.goto(console_.url);
  await expect(page.getByTestId("summary-licenses")).toHaveText("3");
  await expect(page.locator("[data-testid=cluster-row][data-cluster=ops-a]").getByTestId("cluster-license")).toHaveText(/^valid, (19|20) d left$/);
  await page.goto(`${console_.url}/clusters/ops-a`);
  await expect(page.getByTestId("cluster-reasons")).toContainText("license expires in");
  await expect(page.locator("[data-testid=property][data-key='ringside.cluster.name']")).toContainText("ops-a");

  // Both are in the audit trail, with who did them.
  await page.goto(`${console_.url}/audit`);
  await expect(page.getByText("operation.create").first()).toBeVisible();
  await expect(page.getByText("license.upload").first()).toBeVisible();
  await expect(page.getByText("admin", { exact: true }).first()).toBeVisible();
});
