/** Test fixtures for the dashboard e2e: throwaway folders and SHA-256 tree comparison. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Locator, Page, TestInfo } from '@playwright/test';

export const MiB = 1024 * 1024;

/** A fresh folder under the system temp dir; remove it with `rm(dir)` when done. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `leafsync-e2e-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A small tree with nested folders, a hidden file, an empty file and one `bigSize` file. */
export async function makeSourceTree(dir: string, bigSize = 6 * MiB): Promise<void> {
  await mkdir(path.join(dir, 'docs', 'notes'), { recursive: true });
  await mkdir(path.join(dir, 'media'), { recursive: true });
  await writeFile(path.join(dir, 'readme.txt'), 'leafsync e2e\n');
  await writeFile(path.join(dir, 'empty.txt'), '');
  await writeFile(path.join(dir, '.hidden-config'), 'secret=no\n');
  await writeFile(path.join(dir, 'docs', 'plan.md'), '# plan\n'.repeat(500));
  await writeFile(path.join(dir, 'docs', 'notes', 'a.bin'), randomBytes(300_000));
  await writeFile(path.join(dir, 'media', 'big.bin'), randomBytes(bigSize));
}

/** Relative path → SHA-256 of every regular file, leafsync's internal folders left out. */
export async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.name === '.leafsync_tmp' || entry.name === '.leafsync_trash') continue;
      if (entry.isDirectory()) await walk(childRel);
      else if (entry.isFile()) out[childRel] = createHash('sha256').update(await readFile(path.join(dir, childRel))).digest('hex');
    }
  }
  await walk('');
  return out;
}

/** Saves a screenshot of `target` as a test artifact (file in the output dir + report attachment). */
export async function snap(target: Locator | Page, name: string, testInfo: TestInfo): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  const body = await target.screenshot({ path: file, animations: 'disabled' });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

/** Fails the test on any console error, page error or failed HTTP response. */
export function watchForErrors(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
  return { errors };
}

/**
 * Starts a Serve session from the Serve card on a free port and returns the port it got;
 * `allowPush` ticks "Accept pushes" and "Authorise the first client".
 */
export async function startServe(page: Page, folder: string, opts: { allowPush?: boolean } = {}): Promise<{ port: number; panel: Locator }> {
  const card = page.locator('[data-card="serve"]');
  await card.getByLabel('Folder', { exact: true }).fill(folder);
  await card.getByLabel('UDP port').fill('0');
  const push = card.getByLabel('Accept pushes');
  const first = card.getByLabel('Authorise the first client');
  if (opts.allowPush) {
    await push.check();
    await first.check();
  } else {
    await push.uncheck();
  }
  await card.getByRole('button', { name: 'Start serving' }).click();
  const panel = card.locator('section[data-session-id]', { hasText: folder }).first();
  await panel.locator('[data-state="listening"]').first().waitFor();
  const address = (await panel.getByTestId('listen-address').textContent()) ?? '';
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in the listening address "${address}"`);
  return { port, panel };
}
