import { describe, expect, it } from 'vitest';
import { ReadAhead, ReadAheadTracker } from '../src/cache/readahead.ts';

const KB = 1024;

describe('ReadAhead', () => {
  it('grows from one block, doubling per sequential read, up to the maximum', () => {
    const ra = new ReadAhead({ blockBytes: 4 * KB, windowBytesMax: 20 * KB });
    expect(ra.onRead(0, 10)).toEqual({ windowBytes: 0, sequential: false }); // first read: unknown
    const windows: number[] = [];
    for (let start = 10; start < 70; start += 10) windows.push(ra.onRead(start, start + 10).windowBytes);
    expect(windows).toEqual([4 * KB, 8 * KB, 16 * KB, 20 * KB, 20 * KB, 20 * KB]);
    expect(ra.windowBytes).toBe(20 * KB);
  });

  it('resets on a jump forwards or backwards, then grows again from the new position', () => {
    const ra = new ReadAhead({ blockBytes: 100, windowBytesMax: 1000 });
    ra.onRead(0, 5);
    ra.onRead(5, 9);
    expect(ra.onRead(9, 12).windowBytes).toBe(200);
    expect(ra.onRead(50, 60)).toEqual({ windowBytes: 0, sequential: false }); // jump forwards
    expect(ra.onRead(60, 61)).toEqual({ windowBytes: 100, sequential: true });
    expect(ra.onRead(3, 8).windowBytes).toBe(0); // jump backwards
    expect(ra.onRead(8, 9).windowBytes).toBe(100);
  });

  it('keeps the window on a re-read inside the last read and on an empty read at the end', () => {
    const ra = new ReadAhead({ blockBytes: 100, windowBytesMax: 1000 });
    ra.onRead(0, 10);
    ra.onRead(10, 20);
    expect(ra.onRead(20, 30).windowBytes).toBe(200);
    expect(ra.onRead(25, 30)).toEqual({ windowBytes: 200, sequential: false }); // retry of a part
    expect(ra.onRead(30, 30)).toEqual({ windowBytes: 200, sequential: false }); // caught up
    expect(ra.onRead(30, 30).windowBytes).toBe(200); // polling does not grow it
    expect(ra.onRead(30, 35)).toEqual({ windowBytes: 400, sequential: true });
    ra.reset();
    expect(ra.onRead(35, 40).windowBytes).toBe(0);
  });

  it('rejects bad options and ranges', () => {
    expect(() => new ReadAhead({ blockBytes: 0, windowBytesMax: 10 })).toThrow(RangeError);
    expect(() => new ReadAhead({ blockBytes: 10, windowBytesMax: 5 })).toThrow(RangeError);
    const ra = new ReadAhead({ blockBytes: 1, windowBytesMax: 1 });
    expect(() => ra.onRead(5, 4)).toThrow(RangeError);
    expect(() => ra.onRead(-1, 4)).toThrow(RangeError);
  });
});

describe('ReadAheadTracker', () => {
  it('keeps one state per (reader, stream), bounded by entriesMax', () => {
    const t = new ReadAheadTracker({ blockBytes: 10, windowBytesMax: 100, entriesMax: 2 });
    t.onRead('r1', 1, 0, 5);
    t.onRead('r2', 1, 100, 105);
    expect(t.onRead('r1', 1, 5, 6).windowBytes).toBe(10); // r2 did not disturb r1
    expect(t.onRead('r2', 1, 105, 106).windowBytes).toBe(10);
    expect(t.size).toBe(2);
    t.onRead('r1', 2, 0, 5); // a third pair evicts the least recently used (r1, 1)
    expect(t.size).toBe(2);
    expect(t.onRead('r1', 1, 6, 7).windowBytes).toBe(0); // forgotten: starts over
    t.forget('r1', 1);
    expect(t.size).toBe(1);
    expect(() => new ReadAheadTracker({ blockBytes: 10, windowBytesMax: 100, entriesMax: 0 })).toThrow(
      RangeError,
    );
  });
});
