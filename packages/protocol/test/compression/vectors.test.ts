import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  isXerialFramed,
  lz4Compress,
  lz4Decompress,
  snappyCompress,
  snappyCompressRaw,
  snappyDecompress,
  xxhash32,
  zstdDecompress,
} from '../../src/compression/index.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const require = createRequire(import.meta.url);

describe('xxhash32 known answers', () => {
  it('matches the reference values', () => {
    expect(xxhash32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxhash32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxhash32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxhash32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });
});

describe('snappy vectors', () => {
  // Raw snappy block for "hello": uvarint length 5, literal tag ((5-1)<<2), bytes.
  const raw = hex('05 10 68656c6c6f');
  // xerial: magic, version 1, compatible 1, then [int32 length][raw block].
  const xerial = Buffer.concat([hex('82 534e415050 59 00 00000001 00000001 00000007'), raw]);

  it('decodes a hand-built raw block', () => {
    expect(snappyDecompress(raw, 5).toString()).toBe('hello');
  });

  it('decodes a hand-built xerial stream', () => {
    expect(isXerialFramed(xerial)).toBe(true);
    expect(snappyDecompress(xerial, 100).toString()).toBe('hello');
    const two = Buffer.concat([xerial, hex('00000007'), raw]);
    expect(snappyDecompress(two, 100).toString()).toBe('hellohello');
  });

  it('encodes with xerial framing and reads raw blocks too', () => {
    const data = Buffer.from('hello hello hello hello');
    const framed = snappyCompress(data);
    expect(framed.subarray(0, 16).equals(xerial.subarray(0, 16))).toBe(true);
    expect(framed.readInt32BE(16)).toBe(framed.length - 20);
    expect(snappyDecompress(framed, 100).equals(data)).toBe(true);
    expect(snappyDecompress(snappyCompressRaw(data), 100).equals(data)).toBe(true);
  });

  it('rejects a chunk length past the end and an oversized preamble', () => {
    const bad = Buffer.from(xerial);
    bad.writeInt32BE(8, 16);
    expect(() => snappyDecompress(bad, 100)).toThrow(ProtocolError);
    // preamble claims 4 GiB: must fail before allocating anything.
    expect(() => snappyDecompress(hex('ffffffff0f 00'), 1 << 20)).toThrow(/exceeds/);
  });
});

describe('lz4 frame vectors', () => {
  const MAGIC = '04224d18';
  const hc = (desc: Buffer) => (xxhash32(desc) >>> 8) & 0xff;
  const frame = (flg: number, bd: number, extra: Buffer, body: Buffer, broken = false) => {
    const desc = Buffer.concat([Buffer.from([flg, bd]), extra]);
    const h = broken ? hc(Buffer.concat([hex(MAGIC), desc])) : hc(desc);
    return Buffer.concat([hex(MAGIC), desc, Buffer.from([h]), body]);
  };
  // One compressed block: literals "abc", match offset 3 length 9, final empty literal run.
  const block = hex('35 616263 0300 00');
  const blocks = Buffer.concat([hex('07000000'), block, hex('00000000')]);
  const text = 'abcabcabcabc';

  it('has the header checksum Java writes for FLG 0x60 BD 0x40', () => {
    expect(hc(hex('6040'))).toBe(0x82);
  });

  it('decodes a hand-built frame', () => {
    expect(lz4Decompress(frame(0x60, 0x40, Buffer.alloc(0), blocks), 100).toString()).toBe(text);
  });

  it('tolerates the KAFKA-3160 header checksum', () => {
    expect(lz4Decompress(frame(0x60, 0x40, Buffer.alloc(0), blocks, true), 100).toString()).toBe(text);
    const wrong = frame(0x60, 0x40, Buffer.alloc(0), blocks);
    wrong[6] ^= 0x5a;
    expect(() => lz4Decompress(wrong, 100)).toThrow(/header checksum/);
  });

  it('decodes uncompressed blocks, block/content checksums and content size', () => {
    const body = Buffer.from('hello');
    const uncompressed = Buffer.concat([hex('05000080'), body, hex('00000000')]);
    expect(lz4Decompress(frame(0x60, 0x40, Buffer.alloc(0), uncompressed), 10).toString()).toBe('hello');

    const bsum = Buffer.alloc(4);
    bsum.writeUInt32LE(xxhash32(block));
    const csum = Buffer.alloc(4);
    csum.writeUInt32LE(xxhash32(Buffer.from(text)));
    const withSums = Buffer.concat([hex('07000000'), block, bsum, hex('00000000'), csum]);
    expect(lz4Decompress(frame(0x74, 0x40, Buffer.alloc(0), withSums), 100).toString()).toBe(text);
    const badSum = Buffer.from(withSums);
    badSum[badSum.length - 1] ^= 1;
    expect(() => lz4Decompress(frame(0x74, 0x40, Buffer.alloc(0), badSum), 100)).toThrow(/checksum/);

    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(12n);
    expect(lz4Decompress(frame(0x68, 0x40, size, blocks), 100).toString()).toBe(text);
    size.writeBigUInt64LE(1n << 40n);
    expect(() => lz4Decompress(frame(0x68, 0x40, size, blocks), 100)).toThrow(/exceeds/);
  });

  it('writes the frame layout Java writes', () => {
    const z = lz4Compress(Buffer.from(text.repeat(10)));
    expect(z.subarray(0, 7).equals(hex(`${MAGIC} 60 40 82`))).toBe(true);
    expect(z.subarray(z.length - 4).equals(hex('00000000'))).toBe(true);
  });

  it('interoperates with lz4-napi frames (linked blocks off, checksums on)', () => {
    const lz4 = require('lz4-napi') as {
      compressFrameSync(d: Buffer, o?: object): Buffer;
      decompressFrameSync(d: Buffer): Buffer;
    };
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 61;
    const theirs = lz4.compressFrameSync(data, { contentChecksum: true, blockChecksums: true });
    expect(lz4Decompress(theirs, data.length).equals(data)).toBe(true);
    expect(lz4.decompressFrameSync(lz4Compress(data)).equals(data)).toBe(true);
  });
});

describe('zstd vectors', () => {
  it('decodes a raw-block frame built by hand', () => {
    // magic, FHD 0x20 (single segment, 1-byte content size), size 5, last raw block of 5 bytes.
    const frame = hex('28b52ffd 20 05 290000 68656c6c6f');
    expect(zstdDecompress(frame, 5).toString()).toBe('hello');
    expect(() => zstdDecompress(frame, 4)).toThrow(ProtocolError);
    expect(() => zstdDecompress(frame.subarray(0, 10), 5)).toThrow(ProtocolError);
  });
});
