import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { Daemon, logIn, startConsole, workDir } from "./harness";

let console_: Daemon;

test.beforeEach(async () => {
  console_ = await startConsole(workDir(), "10s");
});

test.afterEach(async () => {
  await console_?.stop();
});

test("the audit page lists registrations made in the browser, refused ones with why, and exports what it shows", async ({ page }) => {
  await logIn(page, console_);
  await page.goto(console_.url);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  const form = page.getByTestId("register-form");
  await form.locator("input[name=name]").fill("e2e-audit");
  await form.locator("input[name=coordinator_url]").fill("not a url");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("error-coordinator_url")).toContainText("expected an http");
  await form.locator("input[name=coordinator_url]").fill("http://127.0.0.1:1");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("register-result")).toContainText("Registered e2e-audit");

  await page.getByRole("link", { name: "Audit trail" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  const rows = page.getByTestId("audit-row");
  // Newest first: the two registrations, then this browser's login and the
  // harness's own login and API token.
  await expect(rows).toHaveCount(5);
  await expect(rows.getByTestId("audit-row-action")).toHaveText([
    "cluster.register", "cluster.register", "auth.login", "token.issue", "auth.login",
  ]);
  const ok = rows.nth(0);
  await expect(ok.getByTestId("audit-row-action")).toHaveText("cluster.register");
  await expect(ok.getByTestId("audit-row-actor")).toHaveText("admin");
  await expect(ok.getByTestId("audit-row-targets")).toHaveText("e2e-audit");
  await expect(ok.getByTestId("audit-row-result")).toContainText("ok");
  const refused = rows.nth(1);
  await expect(refused.getByTestId("audit-row-result")).toContainText("invalid_field");
  await expect(refused.getByTestId("audit-row-result")).toContainText("expected an http");

  // Filters run on the server; the export link carries them.
  await page.getByTestId("audit-result").selectOption("error");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-result", "invalid_field");
  await expect(page.getByTestId("audit-export")).toHaveAttribute("href", "/api/v1/audit/export?result=error");
  await page.getByTestId("audit-result").selectOption("");
  await page.getByTestId("audit-search").fill("no such thing");
  await expect(page.getByTestId("audit-empty")).toBeVisible();
  await page.getByTestId("audit-search").fill("E2E-AUDIT");
  await expect(rows).toHaveCount(2);

  const download = page.waitForEvent("download");
  await page.getByTestId("audit-export").click();
  const file = await (await download).path();
  const lines = readFileSync(file, "utf8").trim().split("\n");
  expect(lines.map((l: string) => JSON.parse(l).action)).toEqual(["cluster.register", "cluster.register"]);

  // The address sets the filters.
  await page.goto(`${console_.url}/audit?result=ok&cluster=e2e-audit`);
  await expect(page.locator("[data-hydrated=true]")).toBeAttached();
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId("audit-result")).toHaveValue("ok");
});
