import { config, regex, string } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The schemas every command loads (wire messages, trust file, saved sync state) use zod's mini
 * build through this module: zod's classic API weighs ~750 kB and cost each new `leafsync`
 * process ~50 ms to load, this one ~40 kB. Import it as a namespace (`import * as z`), so the
 * bundle keeps only what is used. The dashboard's API inputs (packages/shared) stay classic.
 *
 * zod/mini loads no locale, and without one every error reads "Invalid input".
 */
config(en());

export * from 'zod/mini';

/** A SHA-256 digest or Merkle root written as 64 lowercase hex digits. */
export const hexDigest = string().check(regex(/^[0-9a-f]{64}$/));
