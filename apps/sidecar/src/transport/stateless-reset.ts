/**
 * Stateless resets (RFC 9000 §10.3): how a server that no longer has a connection (it restarted,
 * or dropped it and the peer missed the CONNECTION_CLOSE) tells the client at once, instead of
 * leaving it to retransmit into silence until its idle timeout.
 *
 * Each connection ID's token is an HMAC of the ID under a key derived from the server's private
 * key, so a restarted server (same identity) computes the same token for a connection it never
 * saw, and nobody without the key can forge one.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

export const RESET_TOKEN_LEN = 16;
/** Every packet ends in one; with a header and a packet number it sets how short a packet can be. */
const AEAD_TAG_LEN = 16;
/** A reset is one byte shorter than what drew it (so two endpoints cannot loop), and no longer than this. */
const MAX_RESET_LEN = 43;
/** Resets sent at most this often on average, in bursts of up to RESET_BURST (spoofed floods cost little). */
const RESETS_PER_SECOND = 100;
const RESET_BURST = 20;

/** The key every token is derived from: stable for as long as the identity is. */
export function resetKeyFor(privateKeyPem: string): Buffer {
  return Buffer.from(hkdfSync('sha256', privateKeyPem, '', 'leafsync/1 stateless reset token', 32));
}

export class StatelessResets {
  private tokens = RESET_BURST;
  private refilledAt: number;

  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.refilledAt = now();
  }

  /** The token a client learns for connection ID `cid` (in the server's transport parameters). */
  token(cid: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(cid).digest().subarray(0, RESET_TOKEN_LEN);
  }

  /** The same token as quiche's setStatelessResetToken takes it: a 128-bit number, big-endian. */
  tokenValue(cid: Uint8Array): bigint {
    return BigInt(`0x${this.token(cid).toString('hex')}`);
  }

  /**
   * The reset to send for a short-header datagram whose connection ID (bytes 1..1+cidLen) no
   * connection has, or undefined when it is too short to be one of ours or resets are over their
   * rate. Looks like any short-header packet: the fixed bit set, unpredictable bytes, the token last.
   */
  answer(datagram: Buffer, cidLen: number): Buffer | undefined {
    if (datagram.length < 1 + cidLen + 1 + AEAD_TAG_LEN || !this.take()) return undefined;
    const reset = randomBytes(Math.min(datagram.length - 1, MAX_RESET_LEN));
    reset[0] = 0x40 | (reset[0]! & 0x3f);
    this.token(datagram.subarray(1, 1 + cidLen)).copy(reset, reset.length - RESET_TOKEN_LEN);
    return reset;
  }

  private take(): boolean {
    const now = this.now();
    this.tokens = Math.min(RESET_BURST, this.tokens + ((now - this.refilledAt) * RESETS_PER_SECOND) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
