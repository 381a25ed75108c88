import { FieldFrame, helpIdFor } from './FieldFrame';
import { control } from './ui';

interface Props<V extends string> {
  id: string;
  label: string;
  value: V;
  options: ReadonlyArray<{ value: V; label: string }>;
  onChange: (value: V) => void;
  help?: string;
  disabled?: boolean;
}

/** A labelled select; the help line is tied to it with aria-describedby. */
export function SelectField<V extends string>({ id, label, value, options, onChange, help, disabled }: Props<V>) {
  return (
    <FieldFrame id={id} label={label} help={help}>
      <select
        id={id}
        value={value}
        disabled={disabled}
        // The options are exactly the values of V, so what the select reports is one of them.
        onChange={(e) => onChange(e.target.value as V)}
        className={`${control} mt-1`}
        aria-describedby={helpIdFor(id, help)}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}
