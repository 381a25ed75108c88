/** Shared control styles, so every input and button on the dashboard has the same size. */

export const control =
  'h-9 w-full min-w-0 rounded-md border border-neutral-300 bg-white px-2.5 text-sm text-neutral-900 ' +
  'focus:outline-none focus-visible:ring-2 focus-visible:ring-leaf-600 disabled:opacity-50 ' +
  'dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-100';

const buttonBase =
  'inline-flex h-9 shrink-0 items-center justify-center gap-1.5 rounded-md px-3 text-sm font-medium ' +
  'focus:outline-none focus-visible:ring-2 focus-visible:ring-leaf-600 focus-visible:ring-offset-1 ' +
  'disabled:cursor-not-allowed disabled:opacity-50';

export const primaryButton = `${buttonBase} bg-leaf-700 text-white hover:bg-leaf-600`;

export const secondaryButton =
  `${buttonBase} border border-neutral-300 bg-white text-neutral-800 hover:bg-neutral-100 ` +
  'dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-100 dark:hover:bg-neutral-800';

export const dangerButton =
  `${buttonBase} border border-red-300 bg-white text-red-700 hover:bg-red-50 ` +
  'dark:border-red-800 dark:bg-neutral-900 dark:text-red-300 dark:hover:bg-red-950';

export const labelText = 'block text-sm font-medium text-neutral-700 dark:text-neutral-300';

export const hint = 'mt-1 text-xs text-neutral-500 dark:text-neutral-400';

export const card =
  'flex min-w-0 flex-col gap-4 rounded-lg border border-neutral-200 bg-white p-4 shadow-sm ' +
  'dark:border-neutral-800 dark:bg-neutral-950';
