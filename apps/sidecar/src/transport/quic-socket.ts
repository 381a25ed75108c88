/**
 * UDP socket creation shared by server and client.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Kernel buffers big enough for a burst of a full congestion window (capped by net.core.*mem_max). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Addresses are resolved once before the socket is used, so every send gets
 * an IP literal. Node would still route each unconnected send through
 * dns.lookup (a nextTick per datagram); this lookup answers synchronously. It runs once
 * per datagram an unconnected (server) socket sends, so it only looks for a colon
 * (every IPv6 literal has one, no IPv4 literal does) instead of running isIPv6's regex.
 */
const literalLookup = (
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void => callback(null, hostname, hostname.includes(':') ? 6 : 4);

export function createUdpSocket(ip: string): dgram.Socket {
  return dgram.createSocket({
    type: isIPv6(ip) ? 'udp6' : 'udp4',
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES,
    lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
  });
}
