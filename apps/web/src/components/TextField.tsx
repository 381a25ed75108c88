import type { InputHTMLAttributes } from 'react';

import { control, hint, labelText } from './ui';

type Props = {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  help?: string;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange'>;

/** A labelled text or number input; the help line is tied to it with aria-describedby. */
export function TextField({ id, label, value, onChange, help, className, ...rest }: Props) {
  return (
    <div className="min-w-0">
      <label htmlFor={id} className={labelText}>
        {label}
      </label>
      <input
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={`${control} mt-1 ${className ?? ''}`}
        aria-describedby={help ? `${id}-help` : undefined}
        {...rest}
      />
      {help && (
        <p id={`${id}-help`} className={hint}>
          {help}
        </p>
      )}
    </div>
  );
}
