import * as z from '../util/schema.js';
import type { SyncBase } from '../engine/two-way-plan.js';
import type { RelPath } from '../engine/types.js';
import { PairStateFile } from './pair-state.js';

const baseSchema = z.record(z.string(), z.hexDigest);

/**
 * The last synced root of every file, per (local folder, server), kept by `watch`. It is what
 * tells an edit from a stale copy, so it is saved after every cycle. Without it (first run, or
 * an unreadable file) files that differ count as changed on both sides: both versions are kept
 * as a conflict, never overwritten.
 */
export class SyncBaseStore {
  private constructor(private readonly file: PairStateFile<typeof baseSchema>) {}

  static forPair(home: string, folder: string, peerFingerprint: string, only?: RelPath): SyncBaseStore {
    return new SyncBaseStore(PairStateFile.for(home, 'watch', { folder, peer: peerFingerprint, ...(only !== undefined && { scope: only }) }, baseSchema));
  }

  async load(onWarning: (line: string) => void): Promise<Map<RelPath, Uint8Array>> {
    const files = (await this.file.load(onWarning)) ?? {};
    return new Map(Object.entries(files).map(([path, hex]) => [path, Buffer.from(hex, 'hex')]));
  }

  async save(base: SyncBase): Promise<void> {
    const files: Record<string, string> = {};
    for (const [path, root] of base) files[path] = Buffer.from(root).toString('hex');
    await this.file.save(files);
  }
}
