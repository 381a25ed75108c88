import { isIP } from 'node:net';
import type { HostPort } from './types.js';

export class InvalidAddressError extends Error {
  readonly code = 'INVALID_ADDRESS';
  constructor(readonly value: string, reason: string) {
    super(`"${value}" is not a valid HOST:PORT (${reason}); for example 192.168.1.20:4455 or [::1]:4455`);
  }
}

export class InvalidPortError extends Error {
  readonly code = 'INVALID_PORT';
  constructor(readonly value: string) {
    super(`"${value}" is not a valid port: use a number from 0 to 65535 (0 picks a free port)`);
  }
}

export function parsePort(value: string, { allowZero = true } = {}): number {
  if (!/^\d{1,5}$/.test(value.trim())) throw new InvalidPortError(value);
  const port = Number(value);
  if (port > 65535 || (!allowZero && port === 0)) throw new InvalidPortError(value);
  return port;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Parses `host:port` or `[v6]:port`. The host is lowercased so trust entries compare reliably. */
export function parseHostPort(value: string): HostPort {
  const text = value.trim();
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (isIP(host) !== 6) throw new InvalidAddressError(value, `${host} is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw new InvalidAddressError(value, 'missing ":PORT"');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new InvalidAddressError(value, 'write IPv6 addresses in brackets');
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw new InvalidAddressError(value, `"${host}" is not a host name or IP address`);
  }
  let port: number;
  try {
    port = parsePort(portText, { allowZero: false });
  } catch {
    throw new InvalidAddressError(value, `"${portText}" is not a port from 1 to 65535`);
  }
  return { host: host.toLowerCase(), port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
