import { expect, test } from "@playwright/test";
import { Daemon, logIn, startConsole, startCoordinator, startWorker, workDir } from "./harness";

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

const row = (page, name: string) => page.locator(`[data-testid=cluster-row][data-cluster=${name}]`);

test("fleet and cluster pages over real clusters: health, filter, sort, charts, workers, ring", async ({ page }, testInfo) => {
  await logIn(page, console_);
  const alpha = await startCoordinator("e2e-alpha", dir);
  const port = Number(new URL(alpha.url).port);
  const worker = await startWorker("e2e-alpha", alpha, "w1", dir);
  const beta = await startCoordinator("e2e-beta", dir);
  daemons.push(alpha, worker, beta);

  await page.goto(console_.url);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await expect(page.getByTestId("fleet-empty")).toBeVisible();

  // Inline errors, next to the field at fault.
  const form = page.getByTestId("register-form");
  await form.locator("input[name=name]").fill("e2e-alpha");
  await form.locator("input[name=coordinator_url]").fill("not a url");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("error-coordinator_url")).toContainText("expected an http:// or https:// URL");
  await expect(page.getByTestId("error-name")).toBeEmpty();

  await form.locator("input[name=coordinator_url]").fill(alpha.url);
  await form.locator("input[name=region]").fill("eu-west-1");
  await form.locator("input[name=labels]").fill("env=prod, team=e2e");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("register-result")).toContainText("Registered e2e-alpha");
  await expect(row(page, "e2e-alpha").getByTestId("cluster-state")).toHaveText("ready");
  await expect(row(page, "e2e-alpha")).toContainText("env=prod");
  await expect(row(page, "e2e-alpha").getByTestId("cluster-workers")).toHaveText("1/1");

  // A second registration under the same name is refused beside the name.
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("error-name")).toContainText("already registered");

  // A coordinator without workers is degraded, and says why.
  const registered = await console_.fetch(`${console_.url}/api/v1/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "e2e-beta", coordinator_url: beta.url, region: "us-east-1", labels: { env: "dev" } }),
  });
  expect(registered.status).toBe(201);
  await expect(row(page, "e2e-beta").getByTestId("cluster-state")).toHaveText("degraded");
  await expect(row(page, "e2e-beta").getByTestId("cluster-reasons")).toContainText("no workers have joined");
  await expect(page.getByTestId("summary-degraded")).toContainText("1");

  // Filtering and sorting happen in the browser: they work only once the WASM runs.
  await page.getByTestId("fleet-filter").fill("no-such-cluster");
  await expect(page.getByTestId("fleet-count")).toHaveText("0 of 2 clusters shown");
  await page.getByTestId("fleet-filter").fill("");
  await page.getByTestId("fleet-label").fill("env=dev");
  await expect(page.getByTestId("fleet-count")).toHaveText("1 of 2 clusters shown");
  await expect(row(page, "e2e-beta")).toBeVisible();
  await page.getByTestId("fleet-label").fill("");
  await page.getByTestId("fleet-health").selectOption("ready");
  await expect(page.getByTestId("fleet-count")).toHaveText("1 of 2 clusters shown");
  await expect(row(page, "e2e-alpha")).toBeVisible();
  await page.getByTestId("fleet-health").selectOption("");
  await expect(page.getByTestId("fleet-count")).toHaveText("2 of 2 clusters shown");
  await expect(page.getByTestId("fleet-pages")).toHaveText(/^‹ Prev\s*page 1 of 1\s*Next ›$/);
  const first = () => page.getByTestId("cluster-row").first();
  await page.getByTestId("sort-region").click();
  await expect(first()).toHaveAttribute("data-cluster", "e2e-alpha");
  await page.getByTestId("sort-region").click();
  await expect(first()).toHaveAttribute("data-cluster", "e2e-beta");

  // A fleet chart's SVG has plotted data once a few polls are in. Its lines
  // end two 15 s steps back, where every cluster has reported, so the first
  // point shows 30-odd seconds after the first poll: about as long as the
  // steps above take plus a 30 s wait, which one CI run missed.
  test.setTimeout(120_000);
  const workersChart = page.locator("[data-testid=chart][data-metric=workers_online] svg");
  await expect(workersChart).toHaveAttribute("data-points", /^[1-9][0-9]*$/, { timeout: 60_000 });
  await expect(workersChart).toContainText("Workers online");
  await page.screenshot({ path: testInfo.outputPath("fleet.png"), fullPage: true });

  // The cluster page, reached by client-side navigation: workers and ring.
  await row(page, "e2e-alpha").getByRole("link", { name: "e2e-alpha" }).click();
  await expect(page).toHaveURL(/\/clusters\/e2e-alpha$/);
  await expect(page.getByTestId("cluster-name")).toHaveText("e2e-alpha");
  await expect(page.getByTestId("worker-row")).toHaveCount(1);
  await expect(page.getByTestId("ring-share")).toHaveCount(1);
  await expect(page.getByTestId("ring-share")).toHaveAttribute("data-share", "1.000000");

  // The ring preview, computed in the browser, matches the console's own
  // computation with the same ring code on the server.
  const previewed = async (change: object) => {
    const res = await console_.fetch(`${console_.url}/api/v1/clusters/e2e-alpha/ring-preview`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(change),
    });
    expect(res.status).toBe(200);
    return res.json();
  };
  await page.getByTestId("preview-count").fill("2");
  const added = await previewed({ kind: "add_workers", count: 2 });
  expect(added.file_fraction).toBeGreaterThan(0.5);
  await expect(page.getByTestId("preview-files")).toHaveAttribute("data-value", added.file_fraction.toFixed(6));
  await expect(page.getByTestId("preview-bytes")).toHaveAttribute("data-value", String(added.bytes_moved));
  await expect(page.getByTestId("preview-members")).toHaveText("3");
  await page.getByTestId("preview-kind").selectOption("configure");
  await page.getByTestId("preview-policy").selectOption("MAGLEV");
  const maglev = await previewed({ kind: "configure", config: { policy: "MAGLEV" } });
  await expect(page.getByTestId("preview-files")).toHaveAttribute("data-value", maglev.file_fraction.toFixed(6));
  await page.getByTestId("preview-remove").click();
  await expect(page.getByTestId("preview-files")).toHaveAttribute("data-value", "1.000000");
  await page.screenshot({ path: testInfo.outputPath("cluster.png"), fullPage: true });

  // Killed, the cluster turns unreachable; restarted, ready again.
  await alpha.stop();
  await expect(page.getByTestId("cluster-state")).toHaveText("unreachable", { timeout: 15_000 });
  const again = await startCoordinator("e2e-alpha", dir, port);
  daemons.push(again);
  await expect(page.getByTestId("cluster-state")).toHaveText("ready", { timeout: 30_000 });

  // Config drift: the clusters' UFS roots differ, their job settings do not.
  await page.getByRole("link", { name: "Config drift" }).click();
  await page.getByTestId("drift-baseline").selectOption("e2e-alpha");
  await expect(page.getByTestId("drift-summary")).toContainText("differ from e2e-alpha across 1 clusters");
  const ufsRow = page.locator("[data-testid=drift-row][data-key='ringside.ufs.root']");
  await expect(ufsRow).toBeVisible();
  await expect(ufsRow.locator("td[data-differs=true]")).toHaveCount(1);
  await expect(page.locator("[data-testid=drift-row][data-key='ringside.job.batch.size']")).toBeHidden();
  await page.getByTestId("drift-only-differences").uncheck();
  await expect(page.locator("[data-testid=drift-row][data-key='ringside.job.batch.size']")).toBeVisible();
});

test("an unknown cluster page is a 404, malformed filters a notice", async ({ page }) => {
  await logIn(page, console_);
  const response = await page.goto(`${console_.url}/clusters/does-not-exist`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();

  const fleet = await page.goto(`${console_.url}/?health=sideways&page=abc&sort=colour`);
  expect(fleet?.status()).toBe(200);
  await expect(page.getByTestId("query-notice")).toContainText("Ignored health=\"sideways\"");
  await expect(page.getByTestId("query-notice")).toContainText("Ignored page=\"abc\"");
  await expect(page.getByTestId("fleet-empty")).toBeVisible();
});
