'use client';
import { useRef, useState } from 'react';

import { PathPicker } from './PathPicker';
import { control, hint, labelText, secondaryButton } from './ui';

interface Props {
  idPrefix: string;
  folder: string;
  file: string;
  onChange: (value: { folder: string; file: string }) => void;
  folderHelp: string;
  disabled?: boolean;
}

/** Folder (with a Browse… picker) and the optional single file inside it. */
export function FolderFields({ idPrefix, folder, file, onChange, folderHelp, disabled }: Props) {
  const [picking, setPicking] = useState(false);
  const browse = useRef<HTMLButtonElement>(null);
  /** Closes the picker and gives focus back to the Browse… button that opened it. */
  function closePicker() {
    setPicking(false);
    requestAnimationFrame(() => browse.current?.focus());
  }
  const folderId = `${idPrefix}-folder`;
  const fileId = `${idPrefix}-file`;

  return (
    <>
      <div className="min-w-0">
        <label htmlFor={folderId} className={labelText}>
          Folder
        </label>
        <div className="mt-1 flex gap-2">
          <input
            id={folderId}
            className={control}
            value={folder}
            onChange={(e) => onChange({ folder: e.target.value, file })}
            placeholder="/path/to/folder"
            spellCheck={false}
            autoComplete="off"
            disabled={disabled}
            aria-describedby={`${folderId}-help`}
          />
          <button
            ref={browse}
            type="button"
            className={secondaryButton}
            onClick={() => setPicking(true)}
            disabled={disabled}
            aria-label={`Browse for the ${idPrefix} folder or file`}
          >
            Browse…
          </button>
        </div>
        <p id={`${folderId}-help`} className={hint}>
          {folderHelp}
        </p>
      </div>
      <div className="min-w-0">
        <label htmlFor={fileId} className={labelText}>
          Single file (optional)
        </label>
        <div className="mt-1 flex gap-2">
          <input
            id={fileId}
            className={control}
            value={file}
            onChange={(e) => onChange({ folder, file: e.target.value })}
            placeholder="relative/path/in/folder"
            spellCheck={false}
            autoComplete="off"
            disabled={disabled}
            aria-describedby={`${fileId}-help`}
          />
          {file !== '' && (
            <button
              type="button"
              className={secondaryButton}
              onClick={() => onChange({ folder, file: '' })}
              disabled={disabled}
              aria-label="Clear the single file"
            >
              Clear
            </button>
          )}
        </div>
        <p id={`${fileId}-help`} className={hint}>
          Empty means the whole folder. Pick one with Browse… → Select File.
        </p>
      </div>
      {picking && (
        <PathPicker
          initialPath={folder.trim() || undefined}
          onCancel={closePicker}
          onPick={(picked) => {
            closePicker();
            onChange({ folder: picked.folder, file: picked.file ?? '' });
          }}
        />
      )}
    </>
  );
}
