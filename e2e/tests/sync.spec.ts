import { expect, test } from '@playwright/test';

import { MiB, makeSourceTree, removeDir, snap, startServe, tempDir, treeHashes, watchForErrors } from './helpers.js';

test.describe.configure({ timeout: 90_000 });

test('Serve then Connect with "Accept first" syncs a folder, with live progress, and the trees match by SHA-256', async ({ page }, testInfo) => {
  const src = await tempDir('src');
  const dstParent = await tempDir('dst');
  const dst = `${dstParent}/copy`;
  try {
    await makeSourceTree(src, 8 * MiB);
    const watched = watchForErrors(page);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto('/');
    await expect(page.getByRole('status').filter({ hasText: 'Connected to the sidecar' })).toBeVisible();

    // Serve shows this peer's fingerprint (64 hex characters) with a copy button.
    const serveCard = page.locator('[data-card="serve"]');
    await expect(serveCard.getByTestId('own-fingerprint')).toHaveText(/^[0-9a-f]{64}$/);
    await expect(serveCard.getByRole('button', { name: "Copy this peer's fingerprint" })).toBeVisible();

    const t0 = Date.now();
    const { port, panel: servePanel } = await startServe(page, src);
    await expect(servePanel).toHaveAttribute('data-state', 'listening');

    const card = page.locator('[data-card="connect"]');
    await card.getByLabel('Peer IP:port').fill(`127.0.0.1:${port}`);
    await card.getByLabel('Accept first').check();
    await card.getByLabel('Folder', { exact: true }).fill(dst);
    // 32 Mbit/s = 4 MB/s: the 8 MiB file takes about two seconds, long enough to watch.
    await card.getByLabel('Rate limit (Mbit/s)').fill('32');
    await card.getByLabel('Streams').fill('4');
    await card.getByRole('button', { name: 'Start connect' }).click();

    const panel = card.locator(`section[data-session-id][aria-label="connect session 127.0.0.1:${port}"]`);
    await expect(panel).toBeVisible();

    // The overall progress bar and the speed move while the big file transfers.
    const total = panel.getByRole('progressbar').first();
    await expect(total).toBeVisible({ timeout: 20_000 });
    const first = Number(await total.getAttribute('aria-valuenow'));
    // The speed climbs towards the 32 Mbit/s (4 MB/s) limit while the bar moves.
    const speed = panel.locator('[data-stat="speed"]');
    await expect.poll(async () => parseFloat((await speed.textContent()) ?? '0'), { timeout: 10_000 }).toBeGreaterThan(0.3);
    const speedText = await speed.textContent();
    await expect.poll(async () => Number((await total.getAttribute('aria-valuenow')) ?? NaN), { timeout: 15_000 }).toBeGreaterThan(first);
    await expect(panel.getByRole('list', { name: 'Files in transfer' })).toBeVisible();
    await snap(card, 'connect-card-transferring', testInfo);

    await expect(panel).toHaveAttribute('data-state', 'idle', { timeout: 45_000 });
    const syncedMs = Date.now() - t0;
    await expect(panel.getByTestId('last-pass')).toContainText('fetched');
    // The chart keeps the transfer's throughput.
    await expect(panel.getByRole('img', { name: /throughput chart/ })).toBeVisible();

    expect(await treeHashes(dst)).toEqual(await treeHashes(src));
    const timing = `serve+connect+sync of ~8.6 MiB at 32 Mbit/s: ${syncedMs} ms; speed seen: ${speedText}`;
    testInfo.annotations.push({ type: 'timing', description: timing });
    console.log(timing);

    // The server is now pinned: it shows in the Trust view with a Remove button.
    const trust = page.locator('[data-card="trust"]');
    await expect(trust.getByText(`127.0.0.1:${port}`)).toBeVisible();
    await expect(trust.getByRole('button', { name: `Remove pinned server 127.0.0.1:${port}` })).toBeVisible();

    await snap(serveCard, 'serve-card', testInfo);
    await snap(card, 'connect-card-idle', testInfo);
    await snap(page.locator('[data-card="watch"]'), 'watch-card', testInfo);
    await snap(trust, 'trust-view', testInfo);
    await snap(page, 'dashboard-1280x800', testInfo);

    // Stop both sessions from their cards.
    await panel.getByRole('button', { name: 'Stop' }).click();
    await expect(panel).toHaveAttribute('data-state', 'stopped');
    await servePanel.getByRole('button', { name: 'Stop' }).click();
    await expect(servePanel).toHaveAttribute('data-state', 'stopped');

    // Remove the pin from the Trust view.
    await trust.getByRole('button', { name: `Remove pinned server 127.0.0.1:${port}` }).click();
    await expect(trust.getByText(`127.0.0.1:${port}`)).toHaveCount(0);

    expect(watched.errors, 'no console errors or failed requests').toEqual([]);
  } finally {
    await removeDir(src);
    await removeDir(dstParent);
  }
});

test('a wrong pinned fingerprint shows the refusal in the Connect card', async ({ page }, testInfo) => {
  const src = await tempDir('src');
  const dstParent = await tempDir('dst');
  try {
    await makeSourceTree(src, 1 * MiB);
    await page.goto('/');
    const { port, panel: servePanel } = await startServe(page, src);

    const card = page.locator('[data-card="connect"]');
    await card.getByLabel('Peer IP:port').fill(`127.0.0.1:${port}`);
    await card.getByLabel('Pinned fingerprint (optional)').fill('ab'.repeat(32));
    await card.getByLabel('Folder', { exact: true }).fill(`${dstParent}/copy`);
    await card.getByRole('button', { name: 'Start connect' }).click();

    const panel = card.locator(`section[data-session-id][aria-label="connect session 127.0.0.1:${port}"]`);
    await expect(panel).toHaveAttribute('data-state', 'error', { timeout: 20_000 });
    await expect(panel.getByRole('alert')).toContainText(/fingerprint/i);
    await expect(panel.getByRole('alert')).toContainText('ab'.repeat(32));
    await snap(card, 'connect-card-wrong-fingerprint', testInfo);

    // Nothing was written to the destination.
    expect(await treeHashes(dstParent).catch(() => ({}))).toEqual({});

    await panel.getByRole('button', { name: 'Remove' }).click();
    await expect(panel).toHaveCount(0);
    await servePanel.getByRole('button', { name: 'Stop' }).click();
  } finally {
    await removeDir(src);
    await removeDir(dstParent);
  }
});

test('a form error is said in words (no folder chosen)', async ({ page }) => {
  await page.goto('/');
  const card = page.locator('[data-card="connect"]');
  await card.getByLabel('Peer IP:port').fill('127.0.0.1:1');
  await card.getByRole('button', { name: 'Start connect' }).click();
  await expect(card.getByRole('alert')).toContainText('choose a folder');
});

test('Serve for a lossy link: BBR and 8192-byte datagrams are offered, a size under 1200 is refused, and the session shows how it sends', async ({ page }) => {
  const src = await tempDir('src');
  const dstParent = await tempDir('dst');
  const dst = `${dstParent}/copy`;
  try {
    await makeSourceTree(src, 3 * MiB);
    const watched = watchForErrors(page);
    await page.goto('/');
    const serveCard = page.locator('[data-card="serve"]');
    await serveCard.getByLabel('Folder', { exact: true }).fill(src);
    await serveCard.getByLabel('UDP port').fill('0');
    await expect(serveCard.getByLabel('Congestion control')).toHaveValue('cubic');
    await serveCard.getByLabel('Congestion control').selectOption({ label: 'BBR (lossy links)' });
    const size = serveCard.getByLabel('Datagram size (bytes)');
    await size.fill('1000');
    await serveCard.getByRole('button', { name: 'Start serving' }).click();
    // The field's own range stops the form (the API refuses it too, in words: api.test.ts).
    expect(await size.evaluate((el: HTMLInputElement) => el.validationMessage)).toMatch(/1200/);
    await expect(serveCard.locator('section[data-session-id]', { hasText: src })).toHaveCount(0);

    await size.fill('8192');
    await serveCard.getByRole('button', { name: 'Start serving' }).click();
    const servePanel = serveCard.locator('section[data-session-id]', { hasText: src }).first();
    await expect(servePanel).toHaveAttribute('data-state', 'listening');
    await expect(servePanel.getByTestId('session-transport')).toHaveText('BBR, 8192-byte datagrams');
    const address = (await servePanel.getByTestId('listen-address').textContent()) ?? '';

    const card = page.locator('[data-card="connect"]');
    await card.getByLabel('Peer IP:port').fill(address);
    await card.getByLabel('Accept first').check();
    await card.getByLabel('Folder', { exact: true }).fill(dst);
    await card.getByLabel('One pass only').check();
    await card.getByRole('button', { name: 'Start connect' }).click();
    const panel = card.locator(`section[data-session-id][aria-label="connect session ${address}"]`);
    await expect(panel).toHaveAttribute('data-state', 'stopped', { timeout: 30_000 });
    await expect(panel.getByTestId('session-transport')).toHaveCount(0);
    expect(await treeHashes(dst)).toEqual(await treeHashes(src));
    expect(watched.errors, 'no console errors or failed requests').toEqual([]);
  } finally {
    await removeDir(src);
    await removeDir(dstParent);
  }
});
