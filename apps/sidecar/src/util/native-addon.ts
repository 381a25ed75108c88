import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the addon NAME (scripts/build-native.mjs); the same from src/ and from the bundle. */
export function nativeAddonPath(name: string): string {
  return fileURLToPath(new URL(`../../native/build/Release/${name}.node`, import.meta.url));
}

const loaded = new Map<string, unknown>();

/**
 * The addon NAME, or undefined where it was not built: the addons are Linux-only, and a machine
 * without a compiler installs without them. Callers fall back to a slower or weaker way.
 */
export function loadNativeAddon<T>(name: string): T | undefined {
  if (!loaded.has(name)) {
    let addon: unknown;
    if (process.platform === 'linux') {
      try {
        addon = createRequire(import.meta.url)(nativeAddonPath(name));
      } catch {
        // Not built.
      }
    }
    loaded.set(name, addon);
  }
  return loaded.get(name) as T | undefined;
}
