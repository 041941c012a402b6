import { expect, test } from "@playwright/test";
import { Daemon, logIn, startConsole, startCoordinator, startWorker, workDir } from "./harness";

let dir: string;
let console_: Daemon;
let daemons: Daemon[] = [];

test.beforeEach(async () => {
  dir = workDir();
  console_ = await startConsole(dir, "300ms");
});

test.afterEach(async () => {
  for (const d of daemons.reverse()) await d.stop();
  daemons = [];
  await console_?.stop();
});

async function register(coordinator: Daemon, name: string) {
  const res = await console_.fetch(`${console_.url}/api/v1/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, coordinator_url: coordinator.url, access_token: coordinator.token, labels: { tier: "life" } }),
  });
  expect(res.status).toBe(201);
}

test("the cluster page's lifecycle, a rolling restart fanned out to two clusters, and the stale-entry cleanup", async ({ page }, testInfo) => {
  await logIn(page, console_);
  const a = await startCoordinator("life-a", dir);
  const a1 = await startWorker("life-a", a, "a1", dir);
  const a2 = await startWorker("life-a", a, "a2", dir);
  const b = await startCoordinator("life-b", dir);
  daemons.push(a, a1, a2, b, await startWorker("life-b", b, "b1", dir));
  await register(a, "life-a");
  await register(b, "life-b");

  // The phase and every process with its version.
  await page.goto(`${console_.url}/clusters/life-a`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await expect(page.getByTestId("lifecycle-phase")).toHaveText("Ready");
  await expect(page.getByTestId("process-row")).toHaveCount(3);
  const info = await (await fetch(`${a.url}/api/v1/info`)).json();
  await expect(page.getByTestId("process-table")).toContainText(info.version);

  // A rolling restart of every labelled cluster's workers, one at a time.
  await page.goto(`${console_.url}/operations`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await page.getByTestId("op-action").selectOption("rolling_restart");
  await page.getByTestId("op-max-unavailable").fill("1");
  await page.getByTestId("op-selector").fill("tier=life");
  await page.getByTestId("op-preview").click();
  await expect(page.getByTestId("op-preview-description")).toContainText(
    "rolling restart of the workers, 1 at a time on 2 clusters",
  );
  await page.getByTestId("op-start").click();
  await expect(page.getByTestId("op-state")).toHaveText("SUCCEEDED");
  await expect(page.locator("[data-testid=op-target][data-cluster=life-a]")).toContainText("2 workers");
  await expect
    .poll(async () => (await (await fetch(`${a.url}/api/v1/lifecycle`)).json()).restart?.restarted, { timeout: 30_000 })
    .toBe(2);

  // A worker gone for good is flagged; one click removes its entry.
  await a2.stop();
  await page.goto(`${console_.url}/clusters/life-a`);
  await expect(page.getByTestId("stale-workers")).toContainText("1 stale OFFLINE entries", { timeout: 20_000 });
  await page.screenshot({ path: testInfo.outputPath("lifecycle.png"), fullPage: true });
  await page.getByTestId("lifecycle").screenshot({ path: testInfo.outputPath("lifecycle-section.png") });
  await page.getByTestId("remove-stale").click();
  await expect(page.getByTestId("stale-removed")).toHaveText("removed 1");
  const members = await (await fetch(`${a.url}/api/v1/workers`)).json();
  expect(members).toHaveLength(1);
});
