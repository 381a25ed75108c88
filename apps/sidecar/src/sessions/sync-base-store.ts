import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { errCode } from '../fs/fs-errors.js';
import type { SyncBase } from '../engine/two-way-plan.js';
import type { RelPath } from '../engine/types.js';

const baseFile = z.object({
  version: z.literal(1),
  folder: z.string(),
  peer: z.string(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});

/**
 * The last synced root of every file, per (local folder, peer), in LEAFSYNC_HOME/watch. It is
 * what tells an edit from a stale copy, so it is written atomically after every cycle. A lost or
 * unreadable file is not dangerous, only noisy: with no base, files that differ count as changed
 * on both sides and both versions are kept as a conflict.
 */
export class SyncBaseStore {
  private constructor(
    private readonly path: string,
    private readonly folder: string,
    private readonly peer: string,
  ) {}

  static forPair(home: string, folder: string, peerFingerprint: string): SyncBaseStore {
    const id = createHash('sha256').update(folder).update('\0').update(peerFingerprint).digest('hex').slice(0, 32);
    return new SyncBaseStore(join(home, 'watch', `${id}.json`), folder, peerFingerprint);
  }

  /** The stored base; an unreadable file is set aside (kept for inspection) and counts as none. */
  async load(onWarning: (line: string) => void): Promise<Map<RelPath, Uint8Array>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return new Map();
      throw err;
    }
    let parsed: z.infer<typeof baseFile> | undefined;
    try {
      parsed = baseFile.parse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.folder !== this.folder || parsed.peer !== this.peer) {
      const aside = `${this.path}.unreadable-${Date.now()}`;
      await rename(this.path, aside);
      onWarning(`the sync state ${this.path} was unreadable and was moved to ${aside}; files that differ will be kept as conflicts rather than overwritten`);
      return new Map();
    }
    return new Map(Object.entries(parsed.files).map(([path, hex]) => [path, Buffer.from(hex, 'hex')]));
  }

  async save(base: SyncBase): Promise<void> {
    const files: Record<string, string> = {};
    for (const [path, root] of base) files[path] = Buffer.from(root).toString('hex');
    await mkdir(join(this.path, '..'), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify({ version: 1, folder: this.folder, peer: this.peer, files }));
  }
}
