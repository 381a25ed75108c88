import type { InputHTMLAttributes } from 'react';

import { FieldFrame, helpIdFor } from './FieldFrame';
import { control } from './ui';

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
    <FieldFrame id={id} label={label} help={help}>
      <input
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={`${control} mt-1 ${className ?? ''}`}
        aria-describedby={helpIdFor(id, help)}
        {...rest}
      />
    </FieldFrame>
  );
}
