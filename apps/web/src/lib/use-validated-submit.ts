'use client';
import { useState } from 'react';

import { errorText } from './trpc';

/** The part of a zod schema a form needs; keeps the web app free of a direct zod dependency. */
interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
}

/**
 * Validates a form's values with the API's own schema (so mistakes are said in words before
 * anything is sent), then sends them; `error` holds whichever went wrong, `busy` the request.
 */
export function useValidatedSubmit<T>(schema: Schema<T>, send: (input: T) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(values: unknown): Promise<void> {
    const parsed = schema.safeParse(values);
    if (!parsed.success) {
      setError(parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'input'}: ${i.message}`).join('; '));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await send(parsed.data);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return { busy, error, submit };
}
