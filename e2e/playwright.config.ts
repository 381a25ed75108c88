/**
 * End-to-end tests: the real sidecar (`leafsync ui`) serves the built dashboard, Debian's
 * Chromium drives it. Browsers are never downloaded (`npx playwright install` cannot work here):
 * CHROMIUM_PATH or /usr/bin/chromium is used; .ci/run installs Debian's chromium if it is missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { defineConfig } from '@playwright/test';

/** A free loopback port, found synchronously (the config must be a plain object). */
function freePort(): number {
  const script =
    "const s=require('node:net').createServer();" +
    "s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

// The config is loaded again in every worker process; the environment carries the first choice
// to them so that baseURL and the server agree.
process.env.LEAFSYNC_E2E_PORT ??= String(freePort());
process.env.LEAFSYNC_E2E_HOME ??= mkdtempSync(path.join(tmpdir(), 'leafsync-e2e-home-'));
const port = Number(process.env.LEAFSYNC_E2E_PORT);
const home = process.env.LEAFSYNC_E2E_HOME;
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  timeout: 30_000,
  reporter: [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]],
  globalTeardown: './global-teardown.ts',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    },
  },
  webServer: {
    command: `../apps/sidecar/bin/leafsync ui --host 127.0.0.1 --port ${port} --home ${JSON.stringify(home)}`,
    url: `${baseURL}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
