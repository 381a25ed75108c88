import type { SessionInfo, SessionKind } from '@leafsync/shared';

import type { SessionsView } from '../lib/use-sessions';
import { SessionPanel } from './SessionPanel';

/** Every session of one kind, newest first. */
export function SessionList({ view, kind }: { view: SessionsView; kind: SessionKind }) {
  const list: SessionInfo[] = [...view.sessions.values()]
    .filter((s) => s.kind === kind)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  if (list.length === 0) return null;
  return (
    <div className="flex flex-col gap-3" aria-label={`${kind} sessions`} role="group">
      {list.map((s) => (
        <SessionPanel key={s.id} session={s} notice={view.notices.get(s.id)} history={view.history.get(s.id)} />
      ))}
    </div>
  );
}
