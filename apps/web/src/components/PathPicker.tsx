'use client';
import type { DirEntry, DirListing, QuickLink } from '@leafsync/shared';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { createPortal } from 'react-dom';

import { formatBytes } from '../lib/format';
import { joinPath } from '../lib/paths';
import { api, errorText } from '../lib/trpc';
import { control, labelText, primaryButton, secondaryButton } from './ui';

interface Props {
  initialPath?: string;
  onCancel: () => void;
  onPick: (picked: { folder: string; file?: string }) => void;
}

/**
 * The folder/file picker: a modal <dialog> over the sidecar's fs.list. Browse into folders, go
 * up, type a path, jump to a quick link; "Select Folder" takes the folder shown, "Select File"
 * takes the folder shown plus the chosen file relative to it.
 */
export function PathPicker({ initialPath, onCancel, onPick }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const pathId = useId();
  const [listing, setListing] = useState<DirListing>();
  const [loadError, setLoadError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [typed, setTyped] = useState(initialPath ?? '');
  const [chosenFile, setChosenFile] = useState<string>();
  const [links, setLinks] = useState<QuickLink[]>([]);
  // Listings can arrive out of order (the first one may still be loading when the user goes
  // elsewhere): only the latest request's answer is shown, and what the user typed meanwhile is
  // never overwritten by an answer to an earlier request.
  const latestRequest = useRef(0);
  const edits = useRef(0);

  useEffect(() => {
    if (dialog.current && !dialog.current.open) dialog.current.showModal();
    api.fs.quickLinks.query().then(setLinks, () => setLinks([]));
  }, []);

  async function open(path?: string) {
    const request = ++latestRequest.current;
    const editsBefore = edits.current;
    setLoading(true);
    setChosenFile(undefined);
    try {
      const next = await api.fs.list.query(path === undefined ? {} : { path });
      if (request !== latestRequest.current) return;
      setListing(next);
      if (edits.current === editsBefore) setTyped(next.path);
      setLoadError(undefined);
    } catch (err) {
      if (request === latestRequest.current) setLoadError(errorText(err));
    } finally {
      if (request === latestRequest.current) setLoading(false);
    }
  }

  useEffect(() => {
    void open(initialPath);
    // Only the first path; later navigation goes through open().
  }, []);

  function submitPath(e: FormEvent) {
    e.preventDefault();
    // React events bubble through portals: keep this from submitting the card's own form.
    e.stopPropagation();
    if (typed.trim()) void open(typed.trim());
  }

  const error = loadError ?? listing?.error;
  const entries = listing?.error ? [] : (listing?.entries ?? []);

  // Portalled to <body> so the picker's own form is never nested inside a card's form.
  return createPortal(
    <dialog
      ref={dialog}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
      className="m-auto w-[min(40rem,calc(100vw-1.5rem))] max-h-[calc(100vh-2rem)] rounded-lg border border-neutral-200 bg-white p-0 text-neutral-900 shadow-xl backdrop:bg-black/40 dark:border-neutral-800 dark:bg-neutral-950 dark:text-neutral-100"
    >
      <div className="flex max-h-[calc(100vh-2rem)] flex-col gap-3 p-4">
        <h2 id={titleId} className="text-lg font-semibold">
          Choose a folder or file
        </h2>

        {links.length > 0 && (
          <nav aria-label="Quick links" className="flex flex-wrap gap-2">
            {links.map((l) => (
              <button key={l.path} type="button" className={secondaryButton} onClick={() => void open(l.path)} title={l.path}>
                {l.label}
              </button>
            ))}
          </nav>
        )}

        <form onSubmit={submitPath} className="flex items-end gap-2">
          <div className="min-w-0 flex-1">
            <label htmlFor={pathId} className={labelText}>
              Path
            </label>
            <input
              id={pathId}
              className={`${control} mt-1 font-mono`}
              value={typed}
              onChange={(e) => {
                edits.current++;
                setTyped(e.target.value);
              }}
              spellCheck={false}
              autoComplete="off"
            />
          </div>
          <button type="submit" className={secondaryButton}>
            Go
          </button>
          <button
            type="button"
            className={secondaryButton}
            disabled={listing?.parent === undefined}
            onClick={() => listing?.parent !== undefined && void open(listing.parent)}
            aria-label="Go up to the parent folder"
          >
            ↑ Up
          </button>
        </form>

        <p aria-live="polite" className="sr-only">
          {loading ? 'Loading…' : listing ? `Showing ${listing.path}, ${entries.length} entries` : ''}
        </p>

        {error && (
          <p role="alert" className="rounded-md border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
            Cannot read this folder: {error}
          </p>
        )}

        <ul aria-label="Folder contents" className="min-h-40 flex-1 overflow-y-auto rounded-md border border-neutral-200 dark:border-neutral-800">
          {entries.length === 0 && !error && !loading && (
            <li className="p-3 text-sm text-neutral-500">This folder is empty.</li>
          )}
          {entries.map((entry) => (
            <EntryRow
              key={entry.name}
              entry={entry}
              chosen={chosenFile === entry.name}
              onOpen={() => listing && void open(joinPath(listing.path, entry.name))}
              onChoose={() => setChosenFile(entry.name)}
            />
          ))}
        </ul>

        <div className="flex flex-wrap items-center justify-end gap-2">
          <p className="mr-auto min-w-0 truncate text-xs text-neutral-500" aria-live="polite">
            {chosenFile ? `File: ${chosenFile}` : 'No file chosen'}
          </p>
          <button type="button" className={secondaryButton} onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className={secondaryButton}
            disabled={loading || !listing || chosenFile === undefined}
            onClick={() => listing && chosenFile && onPick({ folder: listing.path, file: chosenFile })}
          >
            Select File
          </button>
          <button
            type="button"
            className={primaryButton}
            disabled={loading || !listing || !!listing.error}
            onClick={() => listing && onPick({ folder: listing.path })}
          >
            Select Folder
          </button>
        </div>
      </div>
    </dialog>,
    document.body,
  );
}

function EntryRow({
  entry,
  chosen,
  onOpen,
  onChoose,
}: {
  entry: DirEntry;
  chosen: boolean;
  onOpen: () => void;
  onChoose: () => void;
}) {
  const isDir = entry.type === 'dir';
  return (
    <li className="border-b border-neutral-100 last:border-b-0 dark:border-neutral-900">
      <button
        type="button"
        onClick={isDir ? onOpen : onChoose}
        aria-pressed={isDir ? undefined : chosen}
        aria-label={`${isDir ? 'Open folder' : 'Choose file'} ${entry.name}${entry.internal ? ' (internal)' : entry.hidden ? ' (hidden)' : ''}`}
        className={`flex h-9 w-full items-center gap-2 px-3 text-left text-sm hover:bg-neutral-100 focus:outline-none focus-visible:bg-leaf-50 focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-leaf-600 dark:hover:bg-neutral-900 dark:focus-visible:bg-neutral-900 ${
          chosen ? 'bg-leaf-100 font-semibold ring-2 ring-inset ring-leaf-600 dark:bg-leaf-900' : ''
        } ${entry.hidden || entry.internal ? 'text-neutral-500' : ''}`}
      >
        <EntryIcon dir={isDir} />
        <span className="min-w-0 flex-1 truncate font-mono">
          {entry.name}
          {isDir ? '/' : ''}
        </span>
        {entry.internal && <Tag text="internal" />}
        {entry.hidden && !entry.internal && <Tag text="hidden" />}
        {!isDir && entry.size !== undefined && (
          <span className="shrink-0 text-xs tabular-nums text-neutral-500">{formatBytes(entry.size)}</span>
        )}
      </button>
    </li>
  );
}

/** Inline icons: the system may have no emoji font. */
function EntryIcon({ dir }: { dir: boolean }) {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" className={`size-4 shrink-0 ${dir ? 'text-amber-500' : 'text-neutral-400'}`} fill="currentColor">
      {dir ? (
        <path d="M1.5 3A1.5 1.5 0 0 1 3 1.5h3.2l1.6 1.8H13A1.5 1.5 0 0 1 14.5 4.8v7.7A1.5 1.5 0 0 1 13 14H3a1.5 1.5 0 0 1-1.5-1.5z" />
      ) : (
        <path d="M3.5 1h6L13 4.5V14a1 1 0 0 1-1 1H3.5a1 1 0 0 1-1-1V2a1 1 0 0 1 1-1zm5.5 1v3h3z" fillRule="evenodd" />
      )}
    </svg>
  );
}

function Tag({ text }: { text: string }) {
  return (
    <span aria-hidden="true" className="shrink-0 rounded border border-neutral-300 px-1 text-[0.65rem] uppercase tracking-wide text-neutral-500 dark:border-neutral-700">
      {text}
    </span>
  );
}
