import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidAddressError, formatHostPort, parseHostPort, parsePort } from './address.js';

test('parses IPv4, host names and bracketed IPv6', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:4455'), { host: '127.0.0.1', port: 4455 });
  assert.deepEqual(parseHostPort('NAS.local:1'), { host: 'nas.local', port: 1 });
  assert.deepEqual(parseHostPort('[::1]:4455'), { host: '::1', port: 4455 });
  assert.equal(formatHostPort({ host: '::1', port: 4455 }), '[::1]:4455');
  assert.equal(formatHostPort({ host: '10.0.0.2', port: 80 }), '10.0.0.2:80');
});

test('malformed addresses are refused with the reason and an example', () => {
  for (const bad of ['127.0.0.1', '127.0.0.1:', ':4455', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:44a5', '::1:4455', '[nothex]:1', 'a b:1', 'host:-1']) {
    assert.throws(() => parseHostPort(bad), (e: unknown) => e instanceof InvalidAddressError && /HOST:PORT/.test(e.message), bad);
  }
});

test('ports: 0 to 65535, digits only', () => {
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  assert.throws(() => parsePort('65536'));
  assert.throws(() => parsePort('1e3'));
  assert.throws(() => parsePort('0', { allowZero: false }));
});
