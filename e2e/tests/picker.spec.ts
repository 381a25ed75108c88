import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect, test } from '@playwright/test';

import { makeSourceTree, removeDir, snap, tempDir, watchForErrors } from './helpers.js';

test('the picker browses, goes up, marks hidden and internal entries, and Select File fills folder + file', async ({ page }, testInfo) => {
  const root = await tempDir('picker');
  try {
    await makeSourceTree(root, 64 * 1024);
    await mkdir(path.join(root, '.leafsync_trash'));
    await writeFile(path.join(root, 'docs', 'old.part'), 'partial');
    const watched = watchForErrors(page);
    await page.goto('/');

    const card = page.locator('[data-card="serve"]');
    await card.getByRole('button', { name: /Browse for the serve folder/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Choose a folder or file' });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('navigation', { name: 'Quick links' }).getByRole('button', { name: 'Home' })).toBeVisible();

    // Type a path.
    await dialog.getByLabel('Path', { exact: true }).fill(root);
    await dialog.getByRole('button', { name: 'Go', exact: true }).click();
    const list = dialog.getByRole('list', { name: 'Folder contents' });
    await expect(list.getByRole('button', { name: 'Open folder docs' })).toBeVisible();
    await expect(list.getByRole('button', { name: 'Choose file .hidden-config (hidden)' })).toBeVisible();
    await expect(list.getByRole('button', { name: 'Open folder .leafsync_trash (internal)' })).toBeVisible();

    // Into a folder, deeper, then up.
    await list.getByRole('button', { name: 'Open folder docs' }).click();
    await expect(dialog.getByLabel('Path', { exact: true })).toHaveValue(path.join(root, 'docs'));
    await expect(list.getByRole('button', { name: 'Choose file old.part (internal)' })).toBeVisible();
    await list.getByRole('button', { name: 'Open folder notes' }).click();
    await expect(dialog.getByLabel('Path', { exact: true })).toHaveValue(path.join(root, 'docs', 'notes'));
    await dialog.getByRole('button', { name: 'Go up to the parent folder' }).click();
    await expect(dialog.getByLabel('Path', { exact: true })).toHaveValue(path.join(root, 'docs'));

    // Select File: folder = the folder shown, file = relative to it.
    await expect(dialog.getByRole('button', { name: 'Select File' })).toBeDisabled();
    await list.getByRole('button', { name: 'Choose file plan.md' }).click();
    await expect(list.getByRole('button', { name: 'Choose file plan.md' })).toHaveAttribute('aria-pressed', 'true');
    await snap(dialog, 'picker-dialog', testInfo);
    await dialog.getByRole('button', { name: 'Select File' }).click();
    await expect(dialog).toBeHidden();
    await expect(card.getByLabel('Folder', { exact: true })).toHaveValue(path.join(root, 'docs'));
    await expect(card.getByLabel('Single file (optional)')).toHaveValue('plan.md');

    // Select Folder from the Connect card's picker, which opens where its field points.
    const connect = page.locator('[data-card="connect"]');
    await connect.getByLabel('Folder', { exact: true }).fill(path.join(root, 'media'));
    await connect.getByRole('button', { name: /Browse for the connect folder/ }).click();
    await expect(dialog.getByLabel('Path', { exact: true })).toHaveValue(path.join(root, 'media'));
    await dialog.getByRole('button', { name: 'Go up to the parent folder' }).click();
    await expect(dialog.getByLabel('Path', { exact: true })).toHaveValue(root);
    await dialog.getByRole('button', { name: 'Select Folder' }).click();
    await expect(connect.getByLabel('Folder', { exact: true })).toHaveValue(root);
    await expect(connect.getByLabel('Single file (optional)')).toHaveValue('');

    // An unreadable folder shows the reason instead of entries; Escape closes the dialog.
    await connect.getByRole('button', { name: /Browse for the connect folder/ }).click();
    await dialog.getByLabel('Path', { exact: true }).fill(path.join(root, 'no-such-folder'));
    await dialog.getByRole('button', { name: 'Go', exact: true }).click();
    await expect(dialog.getByRole('alert')).toContainText('folder not found');
    await snap(dialog, 'picker-unreadable', testInfo);
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();

    expect(watched.errors).toEqual([]);
  } finally {
    await removeDir(root);
  }
});
