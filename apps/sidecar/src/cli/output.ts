/** Everything the CLI prints goes through here, so `--json` output stays one JSON object per line. */
export interface Output {
  json: boolean;
  /** A result line: JSON when --json, else the human text. */
  result(event: Record<string, unknown> & { event: string }, human: string): void;
  /** Progress and notices for people; on stderr so stdout stays parseable. */
  notice(line: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(event, human) {
      process.stdout.write((json ? JSON.stringify(event) : human) + '\n');
    },
    notice(line) {
      process.stderr.write(`leafsync: ${line}\n`);
    },
  };
}

/** A failure the user must act on: printed as one line, exit code 1 (2 for bad usage). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
