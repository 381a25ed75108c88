/**
 * A minimal EventSource over fetch, for Node 20 (which has fetch but no EventSource), with just
 * what tRPC's httpSubscriptionLink uses: named events, `lastEventId`, readyState, and reconnecting
 * after a dropped stream with a `Last-Event-ID` header (the tRPC server turns that header into
 * the subscription's `lastEventId`, so nothing is missed across a reconnect).
 */

export interface FetchEventSourceInit {
  withCredentials?: boolean;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  /** Default wait before reconnecting; the server's `retry:` field overrides it. */
  retryMs?: number;
}

interface SseMessageEvent {
  type: string;
  data: string;
  lastEventId: string;
}

type Listener = (event: SseMessageEvent | { type: string; error?: unknown }) => void;

export class FetchEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;

  readyState = 0;
  readonly url: string;
  readonly withCredentials: boolean;
  private lastEventId = '';
  private retryMs: number;
  private readonly listeners = new Map<string, Set<Listener>>();
  private abort = new AbortController();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(url: string | URL, private readonly init: FetchEventSourceInit = {}) {
    this.url = String(url);
    this.withCredentials = init.withCredentials ?? false;
    this.retryMs = init.retryMs ?? 1000;
    void this.connect();
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = this.CLOSED;
    clearTimeout(this.retryTimer);
    this.abort.abort();
  }

  private dispatch(event: SseMessageEvent | { type: string; error?: unknown }): void {
    for (const listener of [...(this.listeners.get(event.type) ?? [])]) listener(event);
  }

  private async connect(): Promise<void> {
    this.abort = new AbortController();
    try {
      const res = await fetch(this.url, {
        headers: {
          Accept: 'text/event-stream',
          'Cache-Control': 'no-cache',
          ...(this.lastEventId && { 'Last-Event-ID': this.lastEventId }),
          ...this.init.headers,
        },
        signal: this.abort.signal,
      });
      if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/event-stream') || !res.body) {
        // Like a browser: a wrong status or type is fatal, not retried.
        await res.body?.cancel().catch(() => {});
        this.readyState = this.CLOSED;
        this.dispatch({ type: 'error', error: new Error(`event stream ${this.url} answered HTTP ${res.status}`) });
        return;
      }
      if (this.readyState === this.CLOSED) return;
      this.readyState = this.OPEN;
      this.dispatch({ type: 'open' });
      await this.read(res.body);
    } catch (err) {
      if (this.readyState === this.CLOSED) return;
      this.dispatch({ type: 'error', error: err });
    }
    if (this.readyState === this.CLOSED) return;
    // The stream ended or broke: reconnect, announcing the last id seen.
    this.readyState = this.CONNECTING;
    this.dispatch({ type: 'error' });
    if (this.readyState === this.CLOSED) return;
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let data: string[] = [];
    let type = '';
    let id: string | undefined;
    for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (id !== undefined) this.lastEventId = id;
          if (data.length > 0) this.dispatch({ type: type || 'message', data: data.join('\n'), lastEventId: this.lastEventId });
          data = [];
          type = '';
          id = undefined;
          if (this.readyState === this.CLOSED) return;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
      }
    }
  }
}
