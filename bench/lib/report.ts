/** One timed run of one tool on one workload. */
export interface Sample {
  run: number;
  wallMs: number;
  wireBytes?: number | undefined;
  clientRssKiB?: number | undefined;
  serverRssKiB?: number | undefined;
  clientCpuS?: number | undefined;
  serverCpuS?: number | undefined;
  detail?: Record<string, unknown>;
}

export interface ToolResult {
  tool: string;
  label: string;
  samples: Sample[];
  /** Wire bytes measured on a separate run through a clean relay (leafsync). */
  relayWire?: { bytes: number; toServer: number; toClient: number; datagrams: number; wallMs: number } | undefined;
}

export interface WorkloadResult {
  id: string;
  title: string;
  /** Bytes of file data the workload moves or covers (for MB/s); undefined when MB/s means nothing. */
  dataBytes?: number | undefined;
  tools: ToolResult[];
  notes: string[];
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const finite = (xs: Array<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));

export interface Row {
  workload: string;
  tool: string;
  runs: number;
  wallMedianS: number;
  wallMinS: number;
  wallMaxS: number;
  mbPerS: number | undefined;
  wireBytes: number | undefined;
  clientPeakRssMiB: number | undefined;
  serverPeakRssMiB: number | undefined;
  clientCpuS: number | undefined;
  serverCpuS: number | undefined;
  cpuSPerGiB: { client: number; server: number } | undefined;
  ratioVsRsync: number | undefined;
}

export function rows(w: WorkloadResult): Row[] {
  const rsync = w.tools.find((t) => t.tool === 'rsync');
  const rsyncMedian = rsync ? median(rsync.samples.map((s) => s.wallMs)) : NaN;
  return w.tools.map((t) => {
    const walls = t.samples.map((s) => s.wallMs);
    const med = median(walls);
    const wire = t.relayWire?.bytes ?? (finite(t.samples.map((s) => s.wireBytes)).length ? median(finite(t.samples.map((s) => s.wireBytes))) : undefined);
    const crss = finite(t.samples.map((s) => s.clientRssKiB));
    const srss = finite(t.samples.map((s) => s.serverRssKiB));
    const ccpu = finite(t.samples.map((s) => s.clientCpuS));
    const scpu = finite(t.samples.map((s) => s.serverCpuS));
    const gib = w.dataBytes !== undefined ? w.dataBytes / 2 ** 30 : undefined;
    return {
      workload: w.id,
      tool: t.label,
      runs: walls.length,
      wallMedianS: med / 1000,
      wallMinS: Math.min(...walls) / 1000,
      wallMaxS: Math.max(...walls) / 1000,
      mbPerS: w.dataBytes !== undefined ? w.dataBytes / 1e6 / (med / 1000) : undefined,
      wireBytes: wire,
      clientPeakRssMiB: crss.length ? Math.max(...crss) / 1024 : undefined,
      serverPeakRssMiB: srss.length ? Math.max(...srss) / 1024 : undefined,
      clientCpuS: ccpu.length ? median(ccpu) : undefined,
      serverCpuS: scpu.length ? median(scpu) : undefined,
      cpuSPerGiB: gib !== undefined && ccpu.length && scpu.length ? { client: median(ccpu) / gib, server: median(scpu) / gib } : undefined,
      ratioVsRsync: t.tool !== 'rsync' && Number.isFinite(rsyncMedian) ? med / rsyncMedian : undefined,
    };
  });
}

const f = (x: number | undefined, digits = 2): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
/** Wall seconds: a pass of a few milliseconds shows as such, not as 0.00. */
export const seconds = (x: number | undefined): string => f(x, x !== undefined && x < 0.1 ? 3 : 2);

export function bytesHuman(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n < 10_000) return `${n} B`;
  if (n < 10e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 10e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

export function markdownTable(all: WorkloadResult[]): string {
  const out = [
    '| workload | tool | runs | wall s median (min–max) | MB/s | wire bytes | peak RSS client / server MiB | CPU s client / server | CPU s/GiB client / server | ÷ rsync |',
    '| --- | --- | --: | --- | --: | --: | --- | --- | --- | --: |',
  ];
  for (const w of all) {
    for (const r of rows(w)) {
      out.push(
        `| ${r.workload} | ${r.tool} | ${r.runs} | ${seconds(r.wallMedianS)} (${seconds(r.wallMinS)}–${seconds(r.wallMaxS)}) | ${f(r.mbPerS, 0)} | ${bytesHuman(r.wireBytes)} | ${f(r.clientPeakRssMiB, 0)} / ${f(r.serverPeakRssMiB, 0)} | ${f(r.clientCpuS)} / ${f(r.serverCpuS)} | ${r.cpuSPerGiB ? `${f(r.cpuSPerGiB.client)} / ${f(r.cpuSPerGiB.server)}` : '—'} | ${r.ratioVsRsync === undefined ? '—' : `${f(r.ratioVsRsync)}×`} |`,
      );
    }
  }
  return out.join('\n');
}
