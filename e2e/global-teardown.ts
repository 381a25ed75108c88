import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Removes the throwaway --home folder that playwright.config.ts made for the sidecar. */
export default async function globalTeardown(): Promise<void> {
  const home = process.env.LEAFSYNC_E2E_HOME;
  if (home && path.basename(home).startsWith('leafsync-e2e-home-') && path.dirname(home) === tmpdir()) {
    await rm(home, { recursive: true, force: true });
  }
}
