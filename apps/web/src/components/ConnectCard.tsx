'use client';
import { connectInput } from '@leafsync/shared';
import { useState, type FormEvent } from 'react';

import { numberOrUndefined } from '../lib/form-values';
import { api } from '../lib/trpc';
import { useValidatedSubmit } from '../lib/use-validated-submit';
import type { SessionsView } from '../lib/use-sessions';
import { CheckboxField } from './CheckboxField';
import { FolderFields } from './FolderFields';
import { FormError } from './FormError';
import { PeerFields, defaultPeerOptions } from './PeerFields';
import { SessionList } from './SessionList';
import { TextField } from './TextField';
import { card, primaryButton } from './ui';

/** `leafsync connect`: keep a local folder in sync with a serving peer (repeated passes). */
export function ConnectCard({ view }: { view: SessionsView }) {
  const [paths, setPaths] = useState({ folder: '', file: '' });
  const [peer, setPeer] = useState(defaultPeerOptions);
  const [interval, setIntervalText] = useState('2');
  const [once, setOnce] = useState(false);
  const [inPlace, setInPlace] = useState(false);
  const { busy, error, submit } = useValidatedSubmit(connectInput, (input) => api.sessions.startConnect.mutate(input));

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
      intervalSeconds: numberOrUndefined(interval),
      once,
      inPlace,
    });
  }

  return (
    <section aria-labelledby="connect-title" className={card} data-card="connect">
      <header>
        <h2 id="connect-title" className="text-lg font-semibold">
          Connect
        </h2>
        <p className="text-sm text-neutral-600 dark:text-neutral-400">Keep a local copy of a peer&apos;s folder in sync.</p>
      </header>

      <form onSubmit={start} className="flex flex-col gap-3" aria-label="Start connecting">
        <PeerFields idPrefix="connect" value={peer} onChange={setPeer} />
        <FolderFields
          idPrefix="connect"
          folder={paths.folder}
          file={paths.file}
          onChange={setPaths}
          folderHelp="Local destination (created if its parent exists)."
        />
        <div className="grid grid-cols-2 items-start gap-3">
          <TextField
            id="connect-interval"
            label="Pause between passes (s)"
            type="number"
            min={0}
            step="any"
            value={interval}
            onChange={setIntervalText}
          />
          <div className="pt-6">
            <CheckboxField id="connect-once" label="One pass only" checked={once} onChange={setOnce} />
          </div>
        </div>
        <CheckboxField
          id="connect-in-place"
          label="Update large files in place"
          checked={inPlace}
          onChange={setInPlace}
          help="Write only the changed chunks over the file instead of replacing it whole: much faster for small changes to big files. An undo journal puts the old version back after a failure or crash; while the chunks are written, a program reading the file may see a mix."
        />
        <FormError message={error} />
        <div>
          <button type="submit" className={primaryButton} disabled={busy}>
            {busy ? 'Starting…' : 'Start connect'}
          </button>
        </div>
      </form>

      <SessionList view={view} kind="connect" />
    </section>
  );
}
