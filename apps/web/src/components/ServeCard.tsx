'use client';
import { serveInput } from '@leafsync/shared';
import { useEffect, useState, type FormEvent } from 'react';

import { api, errorText } from '../lib/trpc';
import { useValidatedSubmit } from '../lib/use-validated-submit';
import type { SessionsView } from '../lib/use-sessions';
import { CheckboxField } from './CheckboxField';
import { CopyButton } from './CopyButton';
import { FolderFields } from './FolderFields';
import { FormError } from './FormError';
import { SessionList } from './SessionList';
import { TextField } from './TextField';
import { TransportFields, defaultTransportOptions, transportRequest } from './TransportFields';
import { card, primaryButton } from './ui';

/** `leafsync serve`: share a folder (or one file) on a UDP port; shows this peer's fingerprint. */
export function ServeCard({ view }: { view: SessionsView }) {
  const [fingerprint, setFingerprint] = useState<string>();
  const [idError, setIdError] = useState<string>();
  const [paths, setPaths] = useState({ folder: '', file: '' });
  const [port, setPort] = useState('4455');
  const [bind, setBind] = useState('0.0.0.0');
  const [allowPush, setAllowPush] = useState(false);
  const [acceptFirstClient, setAcceptFirstClient] = useState(false);
  const [transport, setTransport] = useState(defaultTransportOptions);
  const { busy, error, submit } = useValidatedSubmit(serveInput, (input) => api.sessions.startServe.mutate(input));

  useEffect(() => {
    api.identity.get.query().then(
      (id) => setFingerprint(id.fingerprint),
      (err: unknown) => setIdError(errorText(err)),
    );
  }, []);

  async function start(e: FormEvent) {
    e.preventDefault();
    await submit({
      folder: paths.folder,
      file: paths.file.trim() || undefined,
      port: port.trim() === '' ? undefined : Number(port),
      bind,
      allowPush,
      // The sub-option means nothing without pushes; a hidden tick must not be sent.
      acceptFirstClient: allowPush && acceptFirstClient,
      ...transportRequest(transport),
    });
  }

  return (
    <section aria-labelledby="serve-title" className={card} data-card="serve">
      <header>
        <h2 id="serve-title" className="text-lg font-semibold">
          Serve
        </h2>
        <p className="text-sm text-neutral-600 dark:text-neutral-400">Share a folder with peers that trust this one.</p>
      </header>

      <div className="rounded-md bg-neutral-50 p-3 dark:bg-neutral-900">
        <p className="text-xs font-semibold uppercase tracking-wide text-neutral-500" id="serve-fp-label">
          This peer&apos;s fingerprint
        </p>
        {fingerprint ? (
          <>
            <p className="mt-1 break-all font-mono text-xs" aria-labelledby="serve-fp-label" data-testid="own-fingerprint">
              {fingerprint}
            </p>
            <p className="mt-1 text-xs text-neutral-500">Read it out to the other side; they pin it with the fingerprint field.</p>
            <div className="mt-2">
              <CopyButton text={fingerprint} label="Copy this peer's fingerprint" />
            </div>
          </>
        ) : (
          <p className="mt-1 text-sm text-neutral-500" role={idError ? 'alert' : undefined}>
            {idError ? `Could not read the fingerprint: ${idError}` : 'Loading…'}
          </p>
        )}
      </div>

      <form onSubmit={start} className="flex flex-col gap-3" aria-label="Start serving">
        <FolderFields idPrefix="serve" folder={paths.folder} file={paths.file} onChange={setPaths} folderHelp="The folder to share (read-only for peers unless you accept pushes)." />
        <div className="grid grid-cols-2 gap-3">
          <TextField id="serve-port" label="UDP port" value={port} onChange={setPort} inputMode="numeric" help="0 picks a free port." />
          <TextField id="serve-bind" label="Listen address" value={bind} onChange={setBind} spellCheck={false} />
        </div>
        <CheckboxField
          id="serve-allow-push"
          label="Accept pushes"
          checked={allowPush}
          onChange={setAllowPush}
          help="Let authorised peers running Watch write their changes into this folder; files they delete are moved to .leafsync_trash, never deleted."
        />
        <div className="pl-6">
          <CheckboxField
            id="serve-accept-first-client"
            label="Authorise the first client"
            checked={allowPush && acceptFirstClient}
            onChange={setAcceptFirstClient}
            disabled={!allowPush}
            help="While no client is authorised yet, trust the first one that pushes; check its fingerprint under Trust afterwards."
          />
        </div>
        <TransportFields idPrefix="serve" value={transport} onChange={setTransport} sends="what this peer sends: the data every Connect and Watch pulls" />
        <FormError message={error} />
        <div>
          <button type="submit" className={primaryButton} disabled={busy}>
            {busy ? 'Starting…' : 'Start serving'}
          </button>
        </div>
      </form>

      <SessionList view={view} kind="serve" />
    </section>
  );
}
