'use client';
/**
 * Live state of every session on this sidecar: one `sessions.events` subscription for all of
 * them, kept as a map by session id, plus a per-session throughput history for the charts.
 */
import type { SessionEvent, SessionInfo, SessionState } from '@leafsync/shared';
import { useEffect, useRef, useState } from 'react';

import { api } from './trpc';

export type LinkState = 'connecting' | 'live' | 'retrying';

export interface ThroughputHistory {
  /** Unix seconds. */
  t: number[];
  /** MB/s (decimal). */
  mbps: number[];
}

export interface SessionsView {
  sessions: Map<string, SessionInfo>;
  /** The last notice each session sent (plain words). */
  notices: Map<string, string>;
  history: Map<string, ThroughputHistory>;
  link: LinkState;
  linkError?: string;
  /** Bumps whenever a session changes state (for views that reload on it, like Trust). */
  stateChanges: number;
}

/** How much throughput history the charts keep. */
export const HISTORY_SECONDS = 300;

const ENDED: ReadonlySet<SessionState> = new Set(['stopped', 'error']);
export function isEnded(s: SessionInfo): boolean {
  return ENDED.has(s.state);
}

function applyEvent(map: Map<string, SessionInfo>, ev: SessionEvent): Map<string, SessionInfo> {
  const next = new Map(map);
  switch (ev.type) {
    case 'session':
      next.set(ev.session.id, ev.session);
      break;
    case 'progress': {
      const s = next.get(ev.sessionId);
      if (s) next.set(s.id, { ...s, progress: ev.progress });
      break;
    }
    case 'pass': {
      const s = next.get(ev.sessionId);
      if (s) next.set(s.id, { ...s, lastPass: ev.pass });
      break;
    }
    case 'removed':
      next.delete(ev.sessionId);
      break;
    // The sidecar follows a cycle that changes what the panel shows (lastCycle, conflicts) with a
    // 'session' event; empty cycles must not replace it, so the raw cycle is not applied here.
    case 'cycle':
    case 'notice':
      break;
  }
  return next;
}

export function useSessions(): SessionsView {
  const [sessions, setSessions] = useState<Map<string, SessionInfo>>(() => new Map());
  const [notices, setNotices] = useState<Map<string, string>>(() => new Map());
  const [history, setHistory] = useState<Map<string, ThroughputHistory>>(() => new Map());
  const [link, setLink] = useState<LinkState>('connecting');
  const [linkError, setLinkError] = useState<string>();
  const [stateChanges, setStateChanges] = useState(0);
  const latest = useRef(sessions);
  latest.current = sessions;

  useEffect(() => {
    /** Ids an event has already described: the initial list must not overwrite them. */
    const seen = new Set<string>();
    const sub = api.sessions.events.subscribe(
      {},
      {
        onStarted: () => {
          setLink('live');
          setLinkError(undefined);
        },
        onData: ({ data: ev }) => {
          const id = ev.type === 'session' ? ev.session.id : ev.sessionId;
          seen.add(id);
          setSessions((m) => applyEvent(m, ev));
          if (ev.type === 'notice') setNotices((m) => new Map(m).set(ev.sessionId, ev.message));
          if (ev.type === 'session' || ev.type === 'removed') setStateChanges((n) => n + 1);
        },
        onConnectionStateChange: (st) => {
          if (st.state === 'connecting' && st.error) {
            setLink('retrying');
            setLinkError(st.error.message);
          } else if (st.state === 'pending') {
            setLink('live');
            setLinkError(undefined);
          }
        },
        onError: (err) => {
          setLink('retrying');
          setLinkError(err.message);
        },
      },
    );
    api.sessions.list
      .query()
      .then((list) =>
        setSessions((m) => {
          const next = new Map(m);
          for (const s of list) if (!seen.has(s.id)) next.set(s.id, s);
          return next;
        }),
      )
      .catch((err: unknown) => setLinkError(err instanceof Error ? err.message : String(err)));
    return () => sub.unsubscribe();
  }, []);

  // Sample each live session's speed once a second, so the chart's time axis is even and
  // shows zero while a session sits idle.
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now() / 1000;
      setHistory((prev) => {
        const next = new Map<string, ThroughputHistory>();
        for (const s of latest.current.values()) {
          const h = prev.get(s.id) ?? { t: [], mbps: [] };
          if (isEnded(s) || s.kind === 'serve') {
            next.set(s.id, h);
            continue;
          }
          const speed = s.state === 'transferring' || s.state === 'scanning' ? (s.progress?.bytesPerSecond ?? 0) : 0;
          const keepFrom = h.t.findIndex((x) => x >= now - HISTORY_SECONDS);
          const from = keepFrom < 0 ? h.t.length : keepFrom;
          next.set(s.id, { t: [...h.t.slice(from), now], mbps: [...h.mbps.slice(from), speed / 1e6] });
        }
        return next;
      });
    }, 1000);
    return () => clearInterval(timer);
  }, []);

  return { sessions, notices, history, link, ...(linkError !== undefined && { linkError }), stateChanges };
}
