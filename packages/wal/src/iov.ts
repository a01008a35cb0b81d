/** Zero-copy helpers for buffer lists handed to writev. */

/** Splits a buffer list at byte `n` (zero-copy). */
export function splitIov(iov: readonly Uint8Array[], n: number): [Uint8Array[], Uint8Array[]] {
  const a: Uint8Array[] = [];
  const b: Uint8Array[] = [];
  let left = n;
  for (const buf of iov) {
    if (left >= buf.length) a.push(buf);
    else if (left === 0) b.push(buf);
    else {
      a.push(buf.subarray(0, left));
      b.push(buf.subarray(left));
    }
    left = Math.max(0, left - buf.length);
  }
  return [a, b];
}
