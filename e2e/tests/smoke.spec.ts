import { expect, test } from '@playwright/test';

test('the dashboard loads from the sidecar and renders its cards', async ({ page }, testInfo) => {
  const failed: string[] = [];
  page.on('response', (res) => {
    if (res.status() >= 400) failed.push(`${res.status()} ${res.url()}`);
  });
  const consoleErrors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));

  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toContain('text/html');

  await expect(page).toHaveTitle('leafsync');
  await expect(page.getByRole('heading', { level: 1, name: 'leafsync' })).toBeVisible();
  for (const name of ['Serve', 'Connect', 'Watch', 'Trust']) {
    await expect(page.getByRole('heading', { level: 2, name, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('status').filter({ hasText: 'Connected to the sidecar' })).toBeVisible();

  // Tailwind's stylesheet was served and applied (the page is not unstyled HTML).
  const fontFamily = await page.locator('body').evaluate((el) => getComputedStyle(el).fontFamily);
  expect(fontFamily).toContain('system-ui');

  const screenshot = await page.screenshot({ fullPage: true, path: testInfo.outputPath('dashboard.png') });
  await testInfo.attach('dashboard', { body: screenshot, contentType: 'image/png' });

  expect(failed, 'no request failed').toEqual([]);
  expect(consoleErrors, 'no console errors').toEqual([]);
});

test('an unknown route gets the 404 page with status 404', async ({ page }) => {
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
});
