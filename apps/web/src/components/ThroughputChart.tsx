'use client';
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { HISTORY_SECONDS, type ThroughputHistory } from '../lib/use-sessions';

/** 24-hour HH:MM, short enough for a narrow card. */
function hhmm(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** Throughput in MB/s over the last few minutes (uPlot), resized with its container. */
export function ThroughputChart({ history, label }: { history: ThroughputHistory; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 120,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: '#737373',
          grid: { stroke: 'rgba(115,115,115,0.15)' },
          ticks: { show: false },
          space: 56,
          values: (_u, splits) => splits.map(hhmm),
        },
        { stroke: '#737373', grid: { stroke: 'rgba(115,115,115,0.15)' }, ticks: { show: false }, size: 44, label: 'MB/s', labelSize: 14 },
      ],
      series: [{}, { label: 'MB/s', stroke: 'oklch(0.55 0.15 150)', fill: 'oklch(0.55 0.15 150 / 0.15)', width: 1.5, points: { show: false } }],
    };
    const u = new uPlot(opts, [[], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 120 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData([history.t, history.mbps], false);
    const now = history.t.at(-1) ?? Date.now() / 1000;
    u.setScale('x', { min: now - HISTORY_SECONDS, max: now });
  }, [history]);

  const current = history.mbps.at(-1) ?? 0;
  const peak = history.mbps.reduce((a, b) => Math.max(a, b), 0);
  return (
    <figure className="min-w-0">
      <figcaption className="text-xs font-semibold uppercase tracking-wide text-neutral-500">
        Throughput, last {HISTORY_SECONDS / 60} minutes
      </figcaption>
      <div ref={box} role="img" aria-label={`${label}: throughput chart, now ${current.toFixed(2)} MB/s, peak ${peak.toFixed(2)} MB/s`} className="mt-1 w-full overflow-hidden" />
    </figure>
  );
}
