export interface HostPort {
  host: string;
  port: number;
}

/** A node's persistent TLS identity (see identity.ts). */
export interface Identity {
  keyPem: string;
  certPem: string;
  certDer: Uint8Array;
  /** Lowercase hex SHA-256 of certDer. */
  fingerprint: string;
}

/**
 * One bidirectional QUIC stream. Reading (read(), or iterating, not both) gives the peer's bytes
 * until its FIN.
 */
export interface QuicStream extends AsyncIterable<Uint8Array> {
  readonly id: number;
  /**
   * Waits for the peer's next bytes and reads as many as fit straight into `into`; resolves with
   * their count, or 0 once the stream has ended. Rejects if the stream was reset or the
   * connection died.
   */
  read(into: Uint8Array): Promise<number>;
  /** Resolves once quiche has accepted every byte (backpressure); rejects if the stream or connection died. */
  write(data: Uint8Array): Promise<void>;
  /** Sends FIN after everything written so far. */
  end(): Promise<void>;
  /** Abort both directions with an application error code. */
  reset(code?: number): void;
  /**
   * Call after end() on a request whose peer answers at once. quiche 0.18 can lose track of a
   * stream's data after heavy loss and never send it again; if this stream then hears nothing at
   * all while the peer is otherwise heard from and quiche has nothing in flight, for two
   * keep-alive checks (5 s apart; one with the peer silent does not count), reading fails with
   * a stuck reset (QuicStreamResetError.stuck),
   * so a request that is safe to repeat can be asked again on a new stream.
   */
  expectPromptAnswer(): void;
  /**
   * Call on a request whose answer flows without pauses (chunks read straight from disk). If a
   * reader then waits STALLED_ANSWER_MS (5 s) while nothing arrives and the peer is otherwise
   * heard from, reading fails with a stuck reset so the request can be asked again on a new
   * stream. Seen once under 2% loss: a connection whose data stopped for minutes while both QUIC
   * stacks kept exchanging small packets; a peer that stops answering mid-way looks the same.
   */
  expectSteadyAnswer(): void;
}

export interface QuicConnectionStats {
  sentBytes: number;
  recvBytes: number;
  lostPackets: number;
}

export interface QuicConnection {
  readonly remote: HostPort;
  /** DER of the peer's leaf certificate, if it presented one. */
  peerCertificate(): Uint8Array | undefined;
  /** Opens a bidirectional stream; waits if the peer's stream limit is reached. */
  openStream(): Promise<QuicStream>;
  /** Streams the peer opened. */
  incomingStreams(): AsyncIterable<QuicStream>;
  stats(): QuicConnectionStats;
  close(code?: number, reason?: string): Promise<void>;
  /** Settles when the connection is closed for any reason; carries the reason if it was an error. */
  readonly closed: Promise<{ error?: Error }>;
}
