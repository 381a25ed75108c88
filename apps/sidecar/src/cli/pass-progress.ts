import type { PullEvent } from '../engine/pull.js';

const EVERY_MS = 250;

/**
 * Reports the bytes a running pass has verified and stored, a few times a second and only when
 * they moved. Counted from the engine's chunk events, which fire only after a chunk is recorded
 * in its resume bitmap, so a reported number is never more than a resume would keep.
 */
export class PassProgress {
  private bytes = 0;
  private reported = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly report: (bytes: number) => void, enabled: boolean) {
    this.timer = enabled ? setInterval(() => this.tick(), EVERY_MS) : undefined;
    this.timer?.unref();
  }

  readonly onEvent = (event: PullEvent): void => {
    if (event.kind === 'chunk') this.bytes += event.bytes;
  };

  passDone(): void {
    this.bytes = 0;
    this.reported = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private tick(): void {
    if (this.bytes === this.reported) return;
    this.reported = this.bytes;
    this.report(this.bytes);
  }
}
