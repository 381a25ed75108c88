'use client';
import { useState } from 'react';

import { secondaryButton } from './ui';

/** Copies `text` to the clipboard and says so to screen readers. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>();

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      setCopied('no');
    }
    setTimeout(() => setCopied(undefined), 2000);
  }

  return (
    <span className="inline-flex items-center gap-2">
      <button type="button" className={secondaryButton} onClick={copy} aria-label={label}>
        Copy
      </button>
      <span role="status" aria-live="polite" className="text-xs text-neutral-500">
        {copied === 'yes' ? 'Copied' : copied === 'no' ? 'Copy failed: select the text instead' : ''}
      </span>
    </span>
  );
}
