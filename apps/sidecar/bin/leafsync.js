#!/usr/bin/env -S node --max-semi-space-size=2
// Why the flag: a transfer makes many short-lived buffers (stream reads, frames; with node:dgram,
// one per received datagram), and with V8's default young generation (16 MiB semi-spaces) tens of
// MiB of them wait for each scavenge. With 2 MiB, a 1 GiB pull over node:dgram peaked at 140-146
// MiB instead of ~170 per side, at no measurable CPU cost (not re-measured on the batched socket).
// Only a launch flag can set it; the bench reads this line so it runs leafsync as users do.
// The command runs from one bundle (scripts/bundle-cli.mjs); a debug stack should name the sources.
if (process.env.LEAFSYNC_DEBUG) process.setSourceMapsEnabled(true);
await import('../dist/bundle/main.js');
