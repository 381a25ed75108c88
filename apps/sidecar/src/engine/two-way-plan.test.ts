import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conflictCopyPath } from './conflict-name.js';
import { isEmptyPlan, nextBase, planTwoWay, type SyncBase } from './two-way-plan.js';
import type { FileSummary } from './types.js';
import { underUnreadable } from './unreadable.js';

const root = (byte: number) => new Uint8Array(32).fill(byte);
const file = (path: string, version: number): FileSummary => ({ path, type: 'file', size: 10, mtimeMs: 1, mode: 0o644, root: root(version) });
const dir = (path: string): FileSummary => ({ path, type: 'dir', size: 0, mtimeMs: 1, mode: 0o755, root: new Uint8Array(0) });
const base = (entries: Record<string, number>): SyncBase => new Map(Object.entries(entries).map(([p, v]) => [p, root(v)]));

describe('planTwoWay', () => {
  it('leaves files both sides agree on alone', () => {
    assert.ok(isEmptyPlan(planTwoWay([file('a', 1)], [file('a', 1)], base({}), { mirror: true })));
  });

  it('sends an edit the way it happened', () => {
    const plan = planTwoWay([file('mine', 2), file('theirs', 1)], [file('mine', 1), file('theirs', 3)], base({ mine: 1, theirs: 1 }), { mirror: false });
    assert.deepEqual(plan.push, ['mine']);
    assert.deepEqual(plan.pull, ['theirs']);
  });

  it('new files on either side flow to the other', () => {
    const plan = planTwoWay([file('new-here', 1), dir('d')], [file('new-there', 1), dir('e')], base({}), { mirror: false });
    assert.deepEqual(plan.push.sort(), ['d', 'new-here']);
    assert.deepEqual(plan.pull.sort(), ['e', 'new-there']);
  });

  it('an edit on both sides is a conflict, also for files created independently', () => {
    const plan = planTwoWay([file('both', 2), file('created', 5)], [file('both', 3), file('created', 6)], base({ both: 1 }), { mirror: true });
    assert.deepEqual(plan.conflicts.sort(), ['both', 'created']);
    assert.deepEqual([plan.pull, plan.push], [[], []]);
  });

  it('an edit beats a delete, whichever side deleted', () => {
    const plan = planTwoWay([file('edited-here', 2)], [file('edited-there', 3)], base({ 'edited-here': 1, 'edited-there': 1 }), { mirror: true });
    assert.deepEqual(plan.push, ['edited-here']);
    assert.deepEqual(plan.pull, ['edited-there']);
    assert.deepEqual([plan.trashLocal, plan.deleteRemote], [[], []]);
  });

  it('deletes propagate to a trash only with mirror; without it the other copy comes back', () => {
    const local = [file('deleted-there', 1)];
    const remote = [file('deleted-here', 1)];
    const b = base({ 'deleted-here': 1, 'deleted-there': 1 });
    const mirrored = planTwoWay(local, remote, b, { mirror: true });
    assert.deepEqual([mirrored.trashLocal, mirrored.deleteRemote], [['deleted-there'], ['deleted-here']]);
    const kept = planTwoWay(local, remote, b, { mirror: false });
    assert.deepEqual([kept.push, kept.pull, kept.trashLocal, kept.deleteRemote], [['deleted-there'], ['deleted-here'], [], []]);
  });

  it('leaves out everything under a directory either side could not list, in any letter case', () => {
    const local = [dir('Locked'), file('a', 2), file('kept-there', 1)];
    const remote = [dir('locked'), file('locked/new-there', 1), file('kept-here', 1)];
    const b = base({ 'locked/old': 1, 'Locked/x': 1, 'kept-there': 1, 'kept-here': 1, a: 1 });
    const unreadable = underUnreadable(['locked', 'kept-there-dir']);
    const plan = planTwoWay(local, remote, b, { mirror: true, unreadable });
    assert.deepEqual(plan.push, ['a']);
    assert.deepEqual([plan.pull, plan.conflicts], [[], []]);
    assert.deepEqual([plan.trashLocal.sort(), plan.deleteRemote], [['kept-there'], ['kept-here']], 'deletes outside it still propagate');
  });
});

describe('nextBase', () => {
  it('records agreed versions, keeps the old base of what still differs, forgets what both deleted', () => {
    const next = nextBase([file('same', 4), file('differs', 2), file('only-here', 7)], [file('same', 4), file('differs', 3), file('only-there', 8)], base({ differs: 1, 'only-there': 8, gone: 9 }));
    assert.deepEqual(
      [...next].sort(([a], [b]) => a.localeCompare(b)),
      [['differs', root(1)], ['only-there', root(8)], ['same', root(4)]],
    );
  });

  it('a file that differs again right after this cycle moved it keeps the moved version as its base', () => {
    // Pushed v2 (base was v1), then the server's copy became v3 before the closing scan; pulled
    // v5 (base was v4), then the local copy became v6. A deleted-here file pulled as v8.
    const next = nextBase([file('pushed', 2), file('pulled', 6)], [file('pushed', 3), file('pulled', 5), file('gone-here', 8)], base({ pushed: 1, pulled: 4, 'gone-here': 7 }), base({ pushed: 2, pulled: 5, 'gone-here': 8 }));
    assert.deepEqual(
      [...next].sort(([a], [b]) => a.localeCompare(b)),
      [['gone-here', root(8)], ['pulled', root(5)], ['pushed', root(2)]],
    );
    // So the next cycle sees one edit on one side each, not a conflict.
    const plan = planTwoWay([file('pushed', 2), file('pulled', 6)], [file('pushed', 3), file('pulled', 5)], next, { mirror: false });
    assert.deepEqual(plan.conflicts, []);
    assert.deepEqual(plan.pull, ['pushed']);
    assert.deepEqual(plan.push, ['pulled']);
  });
});

describe('conflictCopyPath', () => {
  const when = new Date(2026, 10, 25, 14, 3, 9);
  it('puts the marker before the extension, in the same folder', () => {
    assert.equal(conflictCopyPath('docs/report.final.txt', when, 'abcdef0123456789'), 'docs/report.final.sync-conflict-20261125-140309-abcdef01.txt');
  });
  it('hidden files and files without an extension keep their whole name', () => {
    assert.equal(conflictCopyPath('.bashrc', when, '0123456789abcdef'), '.bashrc.sync-conflict-20261125-140309-01234567');
    assert.equal(conflictCopyPath('a/Makefile', when, '0123456789abcdef'), 'a/Makefile.sync-conflict-20261125-140309-01234567');
  });
});
