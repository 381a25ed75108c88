import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from '../util/schema.js';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { errCode } from '../fs/fs-errors.js';

/**
 * What a session remembers about one (local folder, peer) pair between runs, as JSON in
 * LEAFSYNC_HOME/<kind>/. Written atomically; a file that cannot be read is moved aside (kept
 * for inspection) and the session starts as if it had never run, which is always safe, only
 * slower or noisier.
 */
export class PairStateFile<S extends z.ZodMiniType> {
  private constructor(
    readonly path: string,
    private readonly schema: S,
    private readonly pair: { folder: string; peer: string },
  ) {}

  static for<S extends z.ZodMiniType>(home: string, kind: string, pair: { folder: string; peer: string; scope?: string }, schema: S): PairStateFile<S> {
    const id = createHash('sha256').update(`${pair.folder}\0${pair.peer}\0${pair.scope ?? ''}`).digest('hex').slice(0, 32);
    return new PairStateFile(join(home, kind, `${id}.json`), schema, { folder: pair.folder, peer: pair.peer });
  }

  async load(onWarning: (line: string) => void): Promise<z.infer<S> | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const envelope = z.object({ folder: z.literal(this.pair.folder), peer: z.literal(this.pair.peer), state: this.schema });
    let parsed: { state: z.infer<S> } | undefined;
    try {
      parsed = envelope.parse(JSON.parse(text)) as { state: z.infer<S> };
    } catch {
      const aside = `${this.path}.unreadable-${Date.now()}`;
      await rename(this.path, aside);
      onWarning(`the saved sync state ${this.path} could not be read and was moved to ${aside}; starting afresh`);
      return undefined;
    }
    return parsed.state;
  }

  async save(state: z.infer<S>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify({ ...this.pair, state }));
  }
}
