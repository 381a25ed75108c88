import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnreadableError } from './errors.js';
import { remoteUnreadable, underUnreadable } from './unreadable.js';

describe('underUnreadable', () => {
  it('holds for the directory and what is under it, not for siblings that share a prefix', () => {
    const under = underUnreadable(['a/locked', 'b']);
    for (const p of ['a/locked', 'a/locked/x', 'A/Locked/x/y', 'b', 'b/c']) assert.equal(under(p), true, p);
    for (const p of ['a', 'a/locked.txt', 'a/locked-2/x', 'bb', 'c/b']) assert.equal(under(p), false, p);
    assert.equal(underUnreadable([])('anything'), false);
  });
});

describe('remoteUnreadable', () => {
  it('reports each unreadable directory as a failure', () => {
    const failures: Array<[string, unknown]> = [];
    const under = remoteUnreadable(['photos', 'docs/old'], (path, err) => failures.push([path, err]));
    assert.deepEqual(failures.map(([p]) => p), ['photos', 'docs/old']);
    assert.ok(failures.every(([, err]) => err instanceof UnreadableError));
    assert.equal(under('docs/old/x'), true);
    assert.equal(under('docs/new'), false);
  });

  it('takes the whole folder for unknown when the server names an unsafe path', () => {
    const failures: string[] = [];
    const under = remoteUnreadable(['../escape', 'ok'], (path) => failures.push(path));
    assert.deepEqual(failures, ['../escape', 'ok']);
    assert.equal(under('anything/at/all'), true);
  });
});
