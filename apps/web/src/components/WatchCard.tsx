'use client';
import { useState } from 'react';

import { FolderFields } from './FolderFields';
import { PeerFields, defaultPeerOptions } from './PeerFields';
import { card, primaryButton } from './ui';

/**
 * `leafsync watch` (two-way sync). The sidecar's API cannot start it yet, so the card shows its
 * options with Start disabled and says so.
 */
export function WatchCard() {
  const [paths, setPaths] = useState({ folder: '', file: '' });
  const [peer, setPeer] = useState(defaultPeerOptions);

  return (
    <section aria-labelledby="watch-title" className={card} data-card="watch">
      <header>
        <h2 id="watch-title" className="text-lg font-semibold">
          Watch
        </h2>
        <p className="text-sm text-neutral-600 dark:text-neutral-400">Two-way sync: also push your local edits as they happen.</p>
      </header>

      <p id="watch-note" className="rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100">
        Two-way Watch is coming soon: this version cannot start it yet. Use Connect for one-way sync meanwhile.
      </p>

      <form onSubmit={(e) => e.preventDefault()} className="flex flex-col gap-3" aria-label="Start watching">
        <PeerFields idPrefix="watch" value={peer} onChange={setPeer} />
        <FolderFields idPrefix="watch" folder={paths.folder} file={paths.file} onChange={setPaths} folderHelp="The local folder to keep in two-way sync." />
        <div>
          <button type="submit" className={primaryButton} disabled aria-describedby="watch-note">
            Start watch
          </button>
        </div>
      </form>
    </section>
  );
}
