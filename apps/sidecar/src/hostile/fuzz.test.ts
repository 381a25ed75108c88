import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, symlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { UnsafePathError } from '../engine/errors.js';
import { InsideRoot, validateRelPath } from '../engine/safe-path.js';
import { FrameDecodeError, FrameTooLargeError, TruncatedFrameError, encodeFrame, readFrames } from '../protocol/frame-codec.js';
import { piecesSource } from '../test-support/byte-source.js';
import { tempDirs } from '../test-support/trees.js';

const RUNS = 3000;
const SEED = 20261125;
const LIMIT = 64 * 1024;

const isTypedFrameError = (e: unknown) => e instanceof FrameTooLargeError || e instanceof FrameDecodeError || e instanceof TruncatedFrameError;

/** Reads `bytes` cut at the given points to their end; returns what came out, and the error if one ended it. */
async function decodeAll(bytes: Uint8Array, cuts: number[]): Promise<{ messages: unknown[]; error?: Error }> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces = [...points, bytes.length].map((p, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], p));
  const messages: unknown[] = [];
  try {
    for await (const m of readFrames(piecesSource(pieces), LIMIT)) messages.push(m);
    return { messages };
  } catch (err) {
    return { messages, error: err as Error };
  }
}

const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

test(`fuzz: random bytes in random splits never throw anything but the typed frame errors (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
      const { error } = await decodeAll(bytes, cuts);
      if (error) assert.ok(isTypedFrameError(error), `untyped error: ${error.name}: ${error.message}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test(`fuzz: valid frames round-trip in any split; mutated ones fail only with typed errors (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(wireValue, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      async (values, cuts, flips) => {
        const bytes = Buffer.concat(values.map((v) => encodeFrame(v)));
        const clean = await decodeAll(bytes, cuts);
        assert.equal(clean.error, undefined);
        const one = await Promise.all(values.map(async (v) => (await decodeAll(encodeFrame(v), [])).messages[0]));
        assert.deepEqual(clean.messages, one);
        assert.equal(clean.messages.length, values.length);
        const mutated = Buffer.from(bytes);
        for (const [at, byte] of flips) mutated[at % mutated.length] = byte;
        const dirty = await decodeAll(mutated, cuts);
        if (dirty.error) assert.ok(isTypedFrameError(dirty.error), `untyped error: ${dirty.error.name}: ${dirty.error.message}`);
      },
    ),
    { numRuns: RUNS, seed: SEED },
  );
});

test(`fuzz: a header over the limit is refused before its body is read (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: LIMIT + 1, max: 0xffffffff }), fc.integer({ min: 0, max: 3 }), async (length, bodyBytes) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length);
      const source = piecesSource([header, Buffer.alloc(bodyBytes)]);
      await assert.rejects(
        async () => {
          for await (const m of readFrames(source, LIMIT)) void m;
        },
        (e: unknown) => e instanceof FrameTooLargeError && e.length === length,
      );
      // No read was given room for the body: nothing was allocated for it.
      assert.ok(source.targets.every((t) => t.length < length));
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

const segment = fc.oneof(
  fc.constantFrom('..', '.', '', 'a', 'b', 'C:', 'c:', 'CON', 'nul.txt', '\\', '..\\..', 'x\0y', '\u0000', '~', ' ', 'a ', 'a.', '.leafsync_tmp', '.git', 'é', 'e\u0301', '\ud800', '\u202e', '日本', 'link', 'link2'),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const hostilePath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/')),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('\\')),
  fc.tuple(fc.constantFrom('/', '//', '\\\\', 'C:\\', 'C:/', 'c:', '\\', './', '../'), fc.array(segment, { maxLength: 3 })).map(([p, s]) => p + s.join('/')),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

test(`fuzz: validateRelPath accepts only plain relative paths, or refuses with UnsafePathError (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(hostilePath, fc.boolean(), (p, windows) => {
      let valid: string;
      try {
        valid = validateRelPath(p, { windows });
      } catch (err) {
        assert.ok(err instanceof UnsafePathError, `untyped error for ${JSON.stringify(p)}: ${(err as Error).message}`);
        return;
      }
      const segments = valid.split('/');
      assert.ok(!valid.includes('\0') && !valid.includes('\\') && !valid.startsWith('/') && !/^[A-Za-z]:/.test(valid), JSON.stringify(valid));
      assert.ok(segments.every((s) => s !== '' && s !== '.' && s !== '..'), JSON.stringify(valid));
      assert.ok(!isAbsolute(valid));
      const joined = join('/root', valid);
      assert.ok(joined.startsWith(`/root${sep}`), `${JSON.stringify(valid)} joins to ${joined}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test(`fuzz: whatever resolveInside accepts lies inside the root, even with symlinks in the way (${RUNS} runs)`, async (t) => {
  const [base] = await tempDirs(t, 'fuzz-root');
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await mkdir(outside);
  await symlink(outside, join(root, 'link'));
  await symlink(join(root, 'a'), join(root, 'link2'));
  await symlink(join(root, 'missing'), join(root, 'a', 'dangling'));
  const rootReal = await realpath(root);
  await fc.assert(
    fc.asyncProperty(hostilePath, async (p) => {
      let abs: string;
      try {
        abs = await new InsideRoot(root).resolve(p);
      } catch (err) {
        assert.ok(err instanceof UnsafePathError, `untyped error for ${JSON.stringify(p)}: ${(err as Error).message}`);
        return;
      }
      const rel = relative(root, abs);
      assert.ok(rel !== '' && !rel.startsWith('..') && !isAbsolute(rel), `${JSON.stringify(p)} resolved to ${abs}`);
      // Follow whatever exists of the path on disk: it must stay under the real root.
      let probe = abs;
      for (;;) {
        const real = await realpath(probe).catch(() => undefined);
        if (real !== undefined) {
          assert.ok(real === rootReal || real.startsWith(rootReal + sep), `${JSON.stringify(p)} reaches ${real}`);
          break;
        }
        probe = join(probe, '..');
      }
    }),
    { numRuns: RUNS, seed: SEED },
  );
});
