import { DATAGRAM_SIZE_DEFAULT, DATAGRAM_SIZE_MAX, DATAGRAM_SIZE_MIN, type CongestionControl } from '@leafsync/shared';

import { numberOrUndefined } from '../lib/form-values';
import { SelectField } from './SelectField';
import { TextField } from './TextField';

/** How this side sends (`--congestion`, `--datagram-size`), as the form holds it. */
export interface TransportOptions {
  congestion: CongestionControl;
  datagramSize: string;
}

export const defaultTransportOptions: TransportOptions = { congestion: 'cubic', datagramSize: '' };

/** The API's fields for `value` (an empty size means the default). */
export function transportRequest(value: TransportOptions): { congestion: CongestionControl; datagramSize: number | undefined } {
  return { congestion: value.congestion, datagramSize: numberOrUndefined(value.datagramSize) };
}

const CONGESTION_CHOICES: ReadonlyArray<{ value: CongestionControl; label: string }> = [
  { value: 'cubic', label: 'CUBIC (default)' },
  { value: 'bbr', label: 'BBR (lossy links)' },
];

interface Props {
  idPrefix: string;
  value: TransportOptions;
  onChange: (value: TransportOptions) => void;
  /** What this side sends, in words: only the sender's choice matters. */
  sends: string;
  disabled?: boolean;
}

/** Congestion control and datagram size for what this side sends; the defaults suit a clean path. */
export function TransportFields({ idPrefix, value, onChange, sends, disabled }: Props) {
  return (
    <div className="grid grid-cols-2 items-start gap-3">
      <SelectField
        id={`${idPrefix}-congestion`}
        label="Congestion control"
        value={value.congestion}
        options={CONGESTION_CHOICES}
        onChange={(congestion) => onChange({ ...value, congestion })}
        disabled={disabled}
        help={`For ${sends}. BBR keeps its rate when a link loses packets at random (Wi-Fi, long paths) but takes more than its share; CUBIC shares fairly.`}
      />
      <TextField
        id={`${idPrefix}-datagram-size`}
        label="Datagram size (bytes)"
        type="number"
        min={DATAGRAM_SIZE_MIN}
        max={DATAGRAM_SIZE_MAX}
        value={value.datagramSize}
        onChange={(datagramSize) => onChange({ ...value, datagramSize })}
        placeholder={String(DATAGRAM_SIZE_DEFAULT)}
        disabled={disabled}
        help="Largest UDP payload to send. Raise it only where the path carries it (8192 on a LAN with jumbo frames)."
      />
    </div>
  );
}
