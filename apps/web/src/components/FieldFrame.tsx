import type { ReactNode } from 'react';

import { hint, labelText } from './ui';

/** The help line's id for the control `id`, for its aria-describedby (undefined without help). */
export function helpIdFor(id: string, help: string | undefined): string | undefined {
  return help ? `${id}-help` : undefined;
}

/** A label above a form control and its help line under it (TextField, SelectField). */
export function FieldFrame({ id, label, help, children }: { id: string; label: string; help?: string | undefined; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <label htmlFor={id} className={labelText}>
        {label}
      </label>
      {children}
      {help && (
        <p id={helpIdFor(id, help)} className={hint}>
          {help}
        </p>
      )}
    </div>
  );
}
