/**
 * Orders strings by their UTF-8 bytes (code point order), the order every listing and root uses
 * on every platform, without encoding them: sorting 10k paths through Buffers took ~30 ms, this
 * ~13. UTF-16 code units already sort by code point except that a surrogate (half of a code point
 * above U+FFFF) must sort after U+E000-U+FFFF, which it precedes as a unit.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return aboveBmp(x) - aboveBmp(y);
  }
  return a.length - b.length;
}

function aboveBmp(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit;
}
