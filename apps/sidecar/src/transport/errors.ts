/**
 * Typed transport errors. Callers branch on `code`, never on message text;
 * messages are written for the person reading the CLI output.
 */
export type TransportErrorCode =
  | 'IDENTITY_CORRUPT'
  | 'IDENTITY_IO'
  | 'QUIC_NO_RESPONSE'
  | 'QUIC_HANDSHAKE_FAILED'
  | 'QUIC_CONNECTION_CLOSED'
  | 'QUIC_STREAM_RESET'
  | 'QUIC_STREAM_STATE'
  | 'QUIC_SOCKET';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An identity file exists but cannot be used; we refuse to overwrite it. */
export class IdentityError extends TransportError {
  readonly file: string;
  constructor(code: 'IDENTITY_CORRUPT' | 'IDENTITY_IO', file: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.file = file;
  }
}

/** Connecting failed: nobody answered, or the handshake itself failed. */
export class QuicConnectError extends TransportError {
  constructor(code: 'QUIC_NO_RESPONSE' | 'QUIC_HANDSHAKE_FAILED', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The connection is gone (peer close, idle timeout, local close) while a stream operation was pending. */
export class QuicConnectionClosedError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QUIC_CONNECTION_CLOSED', message, options);
  }
}

/**
 * Application code of a reset that means "this stream's data got stuck in the sender's QUIC
 * stack, ask again" (see QuicConnectionImpl's stuck-stream check); the request is safe to retry.
 */
export const STREAM_STUCK_CODE = 0x5354;

/** The peer reset (or stopped) a stream; `appCode` is the peer's application error code. */
export class QuicStreamResetError extends TransportError {
  readonly streamId: number;
  readonly appCode: number;
  constructor(streamId: number, appCode: number, message: string) {
    super('QUIC_STREAM_RESET', message);
    this.streamId = streamId;
    this.appCode = appCode;
  }

  /** The sender gave up on delivering this stream's data; the same request on a new stream will work. */
  get stuck(): boolean {
    return this.appCode === STREAM_STUCK_CODE;
  }
}

/** A stream operation that is illegal in the stream's current state (e.g. write after end). */
export class QuicStreamStateError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QUIC_STREAM_STATE', message, options);
  }
}

export class QuicSocketError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QUIC_SOCKET', message, options);
  }
}
