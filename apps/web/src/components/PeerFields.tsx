import { CheckboxField } from './CheckboxField';
import { TextField } from './TextField';

export interface PeerOptions {
  address: string;
  acceptFirst: boolean;
  fingerprint: string;
  mirror: boolean;
  streams: string;
  rateMbps: string;
}

export const defaultPeerOptions: PeerOptions = {
  address: '',
  acceptFirst: false,
  fingerprint: '',
  mirror: false,
  streams: '8',
  rateMbps: '',
};

interface Props {
  idPrefix: string;
  value: PeerOptions;
  onChange: (value: PeerOptions) => void;
  disabled?: boolean;
  /** What mirror means here: Connect trashes local-only files, Watch sends deletes both ways. */
  mirrorHelp?: string;
}

/** The options Connect and Watch share: server, trust, mirror deletes, streams, rate limit. */
export function PeerFields({ idPrefix, value, onChange, disabled, mirrorHelp }: Props) {
  const set = <K extends keyof PeerOptions>(key: K, v: PeerOptions[K]) => onChange({ ...value, [key]: v });
  return (
    <>
      <TextField
        id={`${idPrefix}-address`}
        label="Peer IP:port"
        value={value.address}
        onChange={(v) => set('address', v)}
        placeholder="192.168.1.20:4455"
        spellCheck={false}
        autoComplete="off"
        disabled={disabled}
        help="The serving peer, as HOST:PORT."
      />
      <CheckboxField
        id={`${idPrefix}-accept-first`}
        label="Accept first"
        checked={value.acceptFirst}
        onChange={(v) => set('acceptFirst', v)}
        disabled={disabled}
        help="Trust the server's certificate on first use and pin it."
      />
      <TextField
        id={`${idPrefix}-fingerprint`}
        label="Pinned fingerprint (optional)"
        value={value.fingerprint}
        onChange={(v) => set('fingerprint', v)}
        placeholder="64 hex characters"
        spellCheck={false}
        autoComplete="off"
        className="font-mono"
        disabled={disabled}
        help="The server's fingerprint as it shows it; the connection is refused if it differs."
      />
      <CheckboxField
        id={`${idPrefix}-mirror`}
        label="Mirror deletes"
        checked={value.mirror}
        onChange={(v) => set('mirror', v)}
        disabled={disabled}
        help={mirrorHelp ?? 'Move local files the server does not have to .leafsync_trash (never deleted).'}
      />
      <div className="grid grid-cols-2 gap-3">
        <TextField
          id={`${idPrefix}-streams`}
          label="Streams"
          type="number"
          min={1}
          max={64}
          value={value.streams}
          onChange={(v) => set('streams', v)}
          disabled={disabled}
          help="Chunk requests in flight (1–64)."
        />
        <TextField
          id={`${idPrefix}-rate`}
          label="Rate limit (Mbit/s)"
          type="number"
          min={0}
          step="any"
          value={value.rateMbps}
          onChange={(v) => set('rateMbps', v)}
          placeholder="unlimited"
          disabled={disabled}
          help="Empty means unlimited."
        />
      </div>
    </>
  );
}
