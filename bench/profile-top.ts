/**
 * Top self-time functions of V8 CPU profiles (`node --cpu-prof`, as `npm run bench -- --profile`
 * writes under bench/results/profiles/):
 *   node --import tsx bench/profile-top.ts FILE.cpuprofile [more…] [--top 25] [--inclusive] [--match apps/]
 * --inclusive ranks by total time (the function or anything it called); --match keeps only
 * functions whose file contains the given text.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const top = Number(valueOf('--top') ?? 25);
const match = valueOf('--match');
const inclusive = args.includes('--inclusive');
const values = new Set(['--top', '--match'].map((f) => args.indexOf(f) + 1).filter((i) => i > 0));
const files = args.filter((a, i) => !a.startsWith('--') && !values.has(i));

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node from samples × time deltas (more exact than hitCount × interval).
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (id: number): string => {
    const cf = byId.get(id)!.callFrame;
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').replace(/.*\/(apps|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    return `${cf.functionName || '(anonymous)'}  ${where}`.trim();
  };
  const agg = new Map<string, number>();
  for (const [id, us] of self) {
    if (!inclusive) {
      agg.set(keyOf(id), (agg.get(keyOf(id)) ?? 0) + us);
      continue;
    }
    const seen = new Set<string>(); // a recursive function counts once per sample
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(at);
      if (seen.has(key)) continue;
      seen.add(key);
      agg.set(key, (agg.get(key) ?? 0) + us);
    }
  }
  if (match !== undefined) for (const key of [...agg.keys()]) if (!key.includes(match)) agg.delete(key);
  console.log(`\n${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`);
  for (const [key, us] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
  }
}
