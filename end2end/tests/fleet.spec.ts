import { expect, test } from "@playwright/test";
import { Daemon, startConsole, startCoordinator, workDir } from "./harness";

let dir: string;
let console_: Daemon;
let coordinator: Daemon;

test.beforeEach(async () => {
  dir = workDir();
  console_ = await startConsole(dir);
  coordinator = await startCoordinator("e2e-alpha", dir);
});

test.afterEach(async () => {
  await coordinator?.stop();
  await console_?.stop();
});

test("register a coordinator, watch it go up and down, in a hydrated page", async ({ page }, testInfo) => {
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

  await form.locator("input[name=coordinator_url]").fill(coordinator.url);
  await form.locator("input[name=labels]").fill("region=eu, team=e2e");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("register-result")).toContainText("Registered e2e-alpha");
  const row = page.locator("[data-testid=cluster-row][data-cluster=e2e-alpha]");
  await expect(row).toBeVisible();
  await expect(row.getByTestId("cluster-state")).toHaveText("up");
  await expect(row).toContainText("region=eu");

  // A second registration under the same name is refused beside the name.
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("error-name")).toContainText("already registered");

  // Filtering happens in the browser: it works only once the WASM runs.
  await page.getByTestId("fleet-filter").fill("no-such-cluster");
  await expect(row).toBeHidden();
  await expect(page.getByTestId("fleet-count")).toHaveText("0 of 1 clusters shown");
  await page.getByTestId("fleet-filter").fill("team=e2e");
  await expect(row).toBeVisible();
  await expect(page.getByTestId("fleet-count")).toHaveText("1 of 1 clusters shown");

  await page.screenshot({ path: testInfo.outputPath("fleet-up.png"), fullPage: true });

  // Stop the coordinator: within the poll interval (1 s) plus the page's
  // refresh (2 s) it shows as unreachable.
  await coordinator.stop();
  await expect(row.getByTestId("cluster-state")).toHaveText("unreachable", { timeout: 10_000 });
  await page.screenshot({ path: testInfo.outputPath("fleet-unreachable.png"), fullPage: true });

  // The cluster page, reached by client-side navigation.
  await row.getByRole("link", { name: "e2e-alpha" }).click();
  await expect(page).toHaveURL(/\/clusters\/e2e-alpha$/);
  await expect(page.getByTestId("cluster-name")).toHaveText("e2e-alpha");
  await expect(page.getByTestId("cluster-state")).toHaveText("unreachable");
});

test("an unknown cluster page is a 404", async ({ page }) => {
  const response = await page.goto(`${console_.url}/clusters/does-not-exist`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
});
