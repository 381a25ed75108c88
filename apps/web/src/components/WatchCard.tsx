'use client';
import { watchInput } from '@leafsync/shared';
import { useState, type FormEvent } from 'react';

import { numberOrUndefined } from '../lib/form-values';
import { api } from '../lib/trpc';
import { useValidatedSubmit } from '../lib/use-validated-submit';
import type { SessionsView } from '../lib/use-sessions';
import { FolderFields } from './FolderFields';
import { FormError } from './FormError';
import { PeerFields, defaultPeerOptions } from './PeerFields';
import { SessionList } from './SessionList';
import { TextField } from './TextField';
import { TransportFields, defaultTransportOptions, transportRequest } from './TransportFields';
import { card, primaryButton } from './ui';

/** `leafsync watch`: two-way sync with a peer that accepts pushes (its Serve has "Accept pushes"). */
export function WatchCard({ view }: { view: SessionsView }) {
  const [paths, setPaths] = useState({ folder: '', file: '' });
  const [peer, setPeer] = useState(defaultPeerOptions);
  const [pullInterval, setPullInterval] = useState('10');
  const [debounce, setDebounce] = useState('500');
  const [transport, setTransport] = useState(defaultTransportOptions);
  const { busy, error, submit } = useValidatedSubmit(watchInput, (input) => api.sessions.watch.mutate(input));

  async function start(e: FormEvent) {
    e.preventDefault();
    await submit({
      address: peer.address,
      folder: paths.folder,
      file: paths.file.trim() || undefined,
      acceptFirst: peer.acceptFirst,
      fingerprint: peer.fingerprint.trim() || undefined,
      mirror: peer.mirror,
      streams: numberOrUndefined(peer.streams),
      rateMbps: numberOrUndefined(peer.rateMbps),
      pullIntervalSeconds: numberOrUndefined(pullInterval),
      debounceMs: numberOrUndefined(debounce),
      ...transportRequest(transport),
    });
  }

  return (
    <section aria-labelledby="watch-title" className={card} data-card="watch">
      <header>
        <h2 id="watch-title" className="text-lg font-semibold">
          Watch
        </h2>
        <p className="text-sm text-neutral-600 dark:text-neutral-400">
          Two-way sync: push your local edits as they happen and pull the peer&apos;s. The peer must serve with &ldquo;Accept pushes&rdquo;.
        </p>
      </header>

      <form onSubmit={start} className="flex flex-col gap-3" aria-label="Start watching">
        <PeerFields
          idPrefix="watch"
          value={peer}
          onChange={setPeer}
          mirrorHelp="Deletes go both ways, each into that side's .leafsync_trash (never deleted)."
        />
        <FolderFields idPrefix="watch" folder={paths.folder} file={paths.file} onChange={setPaths} folderHelp="The local folder to keep in two-way sync." />
        <div className="grid grid-cols-2 items-start gap-3">
          <TextField
            id="watch-pull-interval"
            label="Pull interval (s)"
            type="number"
            min={0}
            step="any"
            value={pullInterval}
            onChange={setPullInterval}
            help="Fetch the peer's changes at least this often."
          />
          <TextField
            id="watch-debounce"
            label="Debounce (ms)"
            type="number"
            min={0}
            step={1}
            value={debounce}
            onChange={setDebounce}
            help="Quiet time after your last edit before it is pushed."
          />
        </div>
        <TransportFields idPrefix="watch" value={transport} onChange={setTransport} sends="your pushes (the peer's Serve sets it for what you pull)" />
        <FormError message={error} />
        <div>
          <button type="submit" className={primaryButton} disabled={busy}>
            {busy ? 'Starting…' : 'Start watch'}
          </button>
        </div>
      </form>

      <SessionList view={view} kind="watch" />
    </section>
  );
}
