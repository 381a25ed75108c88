/** Number from a field, or undefined when it is empty (so the schema's default applies). */
export function numberOrUndefined(v: string): number | undefined {
  return v.trim() === '' ? undefined : Number(v);
}
