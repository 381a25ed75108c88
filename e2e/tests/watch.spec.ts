import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect, test } from '@playwright/test';

import { removeDir, snap, startServe, tempDir, treeHashes, watchForErrors } from './helpers.js';

test.describe.configure({ timeout: 90_000 });

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

test('Serve with "Accept pushes", then Watch: a file created in the watched folder arrives in the served one, and a conflict keeps both', async ({ page }, testInfo) => {
  const served = await tempDir('served');
  const mineParent = await tempDir('mine');
  const mine = path.join(mineParent, 'two-way');
  try {
    await writeFile(path.join(served, 'notes.txt'), 'first version\n');
    const watched = watchForErrors(page);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto('/');
    await expect(page.getByRole('status').filter({ hasText: 'Connected to the sidecar' })).toBeVisible();

    const { port, panel: servePanel } = await startServe(page, served, { allowPush: true });
    await expect(servePanel.getByTestId('serve-pushes')).toHaveText('accepted from authorised clients');

    const card = page.locator('[data-card="watch"]');
    await card.getByLabel('Peer IP:port').fill(`127.0.0.1:${port}`);
    await card.getByLabel('Accept first').check();
    await card.getByLabel('Folder', { exact: true }).fill(mine);
    // Pushes follow local edits quickly; pulls are left to the (long) interval.
    await card.getByLabel('Pull interval (s)').fill('60');
    await card.getByLabel('Debounce (ms)').fill('200');
    await card.getByRole('button', { name: 'Start watch' }).click();

    const panel = card.locator(`section[data-session-id][aria-label="watch session 127.0.0.1:${port}"]`);
    await expect(panel).toHaveAttribute('data-state', 'idle', { timeout: 20_000 });
    await expect(panel.locator('[data-stat="pulled"]')).toHaveText(/^1 file, /);
    expect(await readFile(path.join(mine, 'notes.txt'), 'utf8')).toBe('first version\n');

    // A file created on disk in the watched folder is pushed to the served folder.
    const t0 = Date.now();
    const created = path.join(mine, 'made-here.txt');
    await writeFile(created, `written on the watching side at ${new Date().toISOString()}\n`.repeat(1000));
    const expected = await sha256(created);
    await expect.poll(() => sha256(path.join(served, 'made-here.txt')).catch(() => ''), { timeout: 20_000 }).toBe(expected);
    const pushedMs = Date.now() - t0;
    await expect(panel.locator('[data-stat="pushed"]')).toHaveText(/^1 file, \d/);
    await snap(card, 'watch-card-pushed', testInfo);

    // Both sides edit notes.txt: the panel lists the conflict, both versions are kept on both sides.
    await writeFile(path.join(served, 'notes.txt'), 'edited on the server\n');
    await writeFile(path.join(mine, 'notes.txt'), 'edited here\n');
    const conflicts = panel.getByRole('list', { name: 'Conflicts' });
    await expect(conflicts).toContainText(/kept both: notes\.txt → \S+/, { timeout: 20_000 });
    await expect.poll(async () => JSON.stringify(await treeHashes(served)), { timeout: 20_000 }).toBe(JSON.stringify(await treeHashes(mine)));
    expect(Object.keys(await treeHashes(mine)).length).toBe(3);
    await snap(card, 'watch-card-conflict', testInfo);

    const timing = `watch: local file pushed and visible on the served side in ${pushedMs} ms (debounce 200 ms)`;
    testInfo.annotations.push({ type: 'timing', description: timing });
    console.log(timing);

    await panel.getByRole('button', { name: 'Stop' }).click();
    await expect(panel).toHaveAttribute('data-state', 'stopped');
    await servePanel.getByRole('button', { name: 'Stop' }).click();
    await expect(servePanel).toHaveAttribute('data-state', 'stopped');

    // "Authorise the first client" authorised this peer (it watched itself): Trust lists it, removable.
    const self = (await page.locator('[data-card="serve"]').getByTestId('own-fingerprint').textContent()) ?? '';
    const trust = page.locator('[data-card="trust"]');
    const removeClient = trust.getByRole('button', { name: `Remove authorised client ${self}` });
    await expect(removeClient).toBeVisible();
    await removeClient.click();
    await expect(removeClient).toHaveCount(0);
    expect(watched.errors, 'no console errors or failed requests').toEqual([]);
  } finally {
    await removeDir(served);
    await removeDir(mineParent);
  }
});
