import { expect, test } from '@playwright/test';

import { snap } from './helpers.js';

test('on a narrow window (400 px) the cards stack and nothing scrolls sideways', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 400, height: 800 });
  await page.goto('/');
  for (const name of ['Serve', 'Connect', 'Watch', 'Trust']) {
    await expect(page.getByRole('heading', { level: 2, name, exact: true })).toBeVisible();
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await snap(page, 'dashboard-400px', testInfo);

  // The picker fits too, and closing it gives focus back to the button that opened it.
  const browse = page.getByRole('button', { name: /Browse for the serve folder/ });
  await browse.click();
  const dialog = page.getByRole('dialog', { name: 'Choose a folder or file' });
  await expect(dialog.getByRole('list', { name: 'Folder contents' })).toBeVisible();
  const box = await dialog.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 400).toBe(true);
  await snap(page, 'picker-400px', testInfo);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(browse).toBeFocused();
});

test('Watch shows its options and can start; Serve offers pushes with the first-client option under it', async ({ page }) => {
  await page.goto('/');
  const card = page.locator('[data-card="watch"]');
  await expect(card.getByText(/coming soon/i)).toHaveCount(0);
  await expect(card.getByRole('button', { name: 'Start watch' })).toBeEnabled();
  for (const label of ['Peer IP:port', 'Accept first', 'Pinned fingerprint (optional)', 'Mirror deletes', 'Streams', 'Rate limit (Mbit/s)', 'Folder', 'Single file (optional)', 'Pull interval (s)', 'Debounce (ms)']) {
    await expect(card.getByLabel(label, { exact: true })).toBeVisible();
  }
  await expect(card.getByLabel('Pull interval (s)')).toHaveValue('10');
  await expect(card.getByLabel('Debounce (ms)')).toHaveValue('500');
  // A mistake is said in words before anything is sent.
  await card.getByLabel('Peer IP:port').fill('127.0.0.1:1');
  await card.getByRole('button', { name: 'Start watch' }).click();
  await expect(card.getByRole('alert')).toContainText('choose a folder');

  const serve = page.locator('[data-card="serve"]');
  const first = serve.getByLabel('Authorise the first client');
  await expect(first).toBeDisabled();
  await serve.getByLabel('Accept pushes').check();
  await expect(first).toBeEnabled();
});

test('every form control has an accessible name', async ({ page }) => {
  await page.goto('/');
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll('input, button, select, textarea')]
      .filter((el) => {
        const e = el as HTMLInputElement;
        if (e.type === 'hidden') return false;
        const labelled = e.labels && e.labels.length > 0;
        const aria = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
        const text = el.tagName === 'BUTTON' && (el.textContent ?? '').trim() !== '';
        return !(labelled || aria || text);
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  expect(unnamed).toEqual([]);
});
