/**
 * On-disk format of recordings (pure: bytes in, bytes out). Documented in docs/recording.md.
 *
 * A segment file is a file header, then blocks. A block is one write():
 *   header (40 bytes, little endian)
 *     0  'BWB1'            magic
 *     4  u8  codec         0 none, 1 gzip, 2 brotli
 *     5  u8  flags         bit 0: the block's first record is a consolidated snapshot
 *     6  u16 reserved
 *     8  u32 clen          compressed payload bytes
 *    12  u32 ulen          uncompressed payload bytes
 *    16  u32 count         records in the block
 *    20  f64 firstTime     receive time of the first record (epoch µs)
 *    28  f64 lastTime      receive time of the last record
 *    36  u32 crc           CRC32 of header bytes 0..35 followed by the compressed payload
 *   payload: the records, compressed as one unit. Each record:
 *     u32 len | u32 crc32(body) | body = u8 kind | f64 time | bytes (the exact bus payload, or a gap marker)
 * A torn write can only damage the last block: readers and recovery stop at the first block whose
 * header or CRC does not verify, and everything before it is intact.
 */
import zlib from 'node:zlib';

export const SEGMENT_MAGIC = Buffer.from('BWSEG01\n', 'latin1');
export const BLOCK_MAGIC = 0x31424742; // 'BWB1' read as u32 LE
export const BLOCK_HEADER_BYTES = 40;
export const RECORD_HEADER_BYTES = 17;
export const FLAG_SNAPSHOT = 1;

export type Codec = 'none' | 'gzip' | 'brotli';
const CODEC_IDS: Record<Codec, number> = { none: 0, gzip: 1, brotli: 2 };
const CODEC_NAMES: Codec[] = ['none', 'gzip', 'brotli'];

export type Stream = 'book' | 'raw';

/** kind of a record: a bus payload as received, or a marker the recorder wrote (JSON). */
export const KIND_MESSAGE = 1;
export const KIND_GAP = 2;

export interface Rec {
  kind: number;
  /** Local receive time at the recorder, epoch µs. */
  time: number;
  bytes: Buffer;
}

/** A gap the recorder saw in a consolidated stream (or a pause in which the bus may have dropped messages). */
export interface GapMarker {
  type: 'gap';
  /** seq the recorder had, and the `prev` of the delta that did not chain (book stream). */
  fromSeq?: number;
  toSeq?: number;
  /** sequence: a consolidated delta did not chain; behind: the recorder paused reading for pausedMs (raw streams). */
  reason: 'sequence' | 'behind';
  pausedMs?: number;
}

export interface BlockMeta {
  /** Byte offset of the block header in the segment file. */
  offset: number;
  clen: number;
  count: number;
  firstTime: number;
  lastTime: number;
  flags: number;
}

export class FormatError extends Error {
  override name = 'FormatError';
}

export const crc32 = (buf: Uint8Array, init = 0): number => zlib.crc32(buf, init);

/** Frame one record (header + body pieces, no copy of the payload). */
export function frameRecord(kind: number, time: number, bytes: Buffer): [Buffer, Buffer] {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  h.writeUInt32LE(9 + bytes.length, 0);
  h.writeUInt8(kind, 8);
  h.writeDoubleLE(time, 9);
  h.writeUInt32LE(crc32(bytes, crc32(h.subarray(8, 17))), 4);
  return [h, bytes];
}

export interface CodecOptions {
  codec: Codec;
  /** gzip 1-9, brotli 0-11 */
  level: number;
}

export function compressSync(buf: Buffer, o: CodecOptions): Buffer {
  if (o.codec === 'none') return buf;
  if (o.codec === 'gzip') return zlib.gzipSync(buf, { level: Math.min(o.level, 9) });
  return zlib.brotliCompressSync(buf, brotliParams(buf.length, o.level));
}

export function compressAsync(buf: Buffer, o: CodecOptions): Promise<Buffer> {
  if (o.codec === 'none') return Promise.resolve(buf);
  return new Promise((resolve, reject) => {
    const cb = (e: Error | null, r: Buffer) => (e ? reject(e) : resolve(r));
    // one output chunk for the whole block: the default 16 KiB chunks cost a thread-pool round trip each
    const chunkSize = Math.max(64 * 1024, buf.length);
    if (o.codec === 'gzip') zlib.gzip(buf, { level: Math.min(o.level, 9), chunkSize }, cb);
    else zlib.brotliCompress(buf, { ...brotliParams(buf.length, o.level), chunkSize }, cb);
  });
}

function brotliParams(size: number, level: number): zlib.BrotliOptions {
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: level,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    },
  };
}

function decompress(codecId: number, buf: Buffer): Buffer {
  const c = CODEC_NAMES[codecId];
  if (c === 'none') return buf;
  if (c === 'gzip') return zlib.gunzipSync(buf);
  if (c === 'brotli') return zlib.brotliDecompressSync(buf);
  throw new FormatError(`unknown codec id ${codecId}`);
}

/** Build a block (header + compressed payload) from already-compressed bytes. */
export function blockBytes(
  codec: Codec,
  flags: number,
  compressed: Buffer,
  ulen: number,
  count: number,
  firstTime: number,
  lastTime: number,
): Buffer {
  const out = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + compressed.length);
  out.writeUInt32LE(BLOCK_MAGIC, 0);
  out.writeUInt8(CODEC_IDS[codec], 4);
  out.writeUInt8(flags, 5);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(compressed.length, 8);
  out.writeUInt32LE(ulen, 12);
  out.writeUInt32LE(count, 16);
  out.writeDoubleLE(firstTime, 20);
  out.writeDoubleLE(lastTime, 28);
  compressed.copy(out, BLOCK_HEADER_BYTES);
  out.writeUInt32LE(crc32(compressed, crc32(out.subarray(0, 36))), 36);
  return out;
}

/** Parse a block header; undefined if it is not one (bad magic, codec or impossible sizes). */
export function parseBlockHeader(
  h: Buffer,
  offset: number,
): (BlockMeta & { codec: number; ulen: number; crc: number }) | undefined {
  if (h.length < BLOCK_HEADER_BYTES || h.readUInt32LE(0) !== BLOCK_MAGIC) return undefined;
  const codec = h.readUInt8(4);
  if (codec >= CODEC_NAMES.length) return undefined;
  const clen = h.readUInt32LE(8);
  const ulen = h.readUInt32LE(12);
  const count = h.readUInt32LE(16);
  if (count === 0 || ulen < count * RECORD_HEADER_BYTES) return undefined;
  return {
    offset,
    codec,
    flags: h.readUInt8(5),
    clen,
    ulen,
    count,
    firstTime: h.readDoubleLE(20),
    lastTime: h.readDoubleLE(28),
    crc: h.readUInt32LE(36),
  };
}

/** True when a whole block (header + payload) verifies. */
export function blockCrcOk(block: Buffer): boolean {
  if (block.length < BLOCK_HEADER_BYTES) return false;
  return crc32(block.subarray(BLOCK_HEADER_BYTES), crc32(block.subarray(0, 36))) === block.readUInt32LE(36);
}

/**
 * Decode a whole block (header + payload) into its records; throws FormatError on any damage. The block
 * CRC covers every byte; `verifyRecords` also checks each record's own CRC (recovery and tests; a replay
 * skips it, ~0.2 µs a record).
 */
export function decodeBlock(block: Buffer, verifyRecords = true): Rec[] {
  const m = parseBlockHeader(block, 0);
  if (!m) throw new FormatError('bad block header');
  if (block.length !== BLOCK_HEADER_BYTES + m.clen) throw new FormatError('truncated block');
  if (!blockCrcOk(block)) throw new FormatError('block checksum mismatch');
  let body: Buffer;
  try {
    body = decompress(m.codec, block.subarray(BLOCK_HEADER_BYTES));
  } catch (e) {
    throw new FormatError(`block does not decompress: ${(e as Error).message}`);
  }
  if (body.length !== m.ulen) throw new FormatError('block length mismatch');
  const out: Rec[] = [];
  let p = 0;
  while (p < body.length) {
    if (p + RECORD_HEADER_BYTES > body.length) throw new FormatError('truncated record');
    const len = body.readUInt32LE(p);
    const end = p + 8 + len;
    if (len < 9 || end > body.length) throw new FormatError('bad record length');
    if (verifyRecords && crc32(body.subarray(p + 8, end)) !== body.readUInt32LE(p + 4))
      throw new FormatError('record checksum mismatch');
    out.push({ kind: body[p + 8], time: body.readDoubleLE(p + 9), bytes: body.subarray(p + RECORD_HEADER_BYTES, end) });
    p = end;
  }
  if (out.length !== m.count) throw new FormatError('record count mismatch');
  return out;
}

/** File header: magic, u32 json length, u32 crc32(json), json. */
export function segmentHeader(info: object): Buffer {
  const json = Buffer.from(JSON.stringify(info));
  const h = Buffer.allocUnsafe(16);
  SEGMENT_MAGIC.copy(h, 0);
  h.writeUInt32LE(json.length, 8);
  h.writeUInt32LE(crc32(json), 12);
  return Buffer.concat([h, json]);
}

/** Length of a valid segment header at the start of buf, or -1. */
export function parseSegmentHeader(buf: Buffer): { length: number; info: Record<string, unknown> } | undefined {
  if (buf.length < 16 || SEGMENT_MAGIC.compare(buf, 0, 8) !== 0) return undefined;
  const n = buf.readUInt32LE(8);
  if (buf.length < 16 + n) return undefined;
  const json = buf.subarray(16, 16 + n);
  if (crc32(json) !== buf.readUInt32LE(12)) return undefined;
  try {
    return { length: 16 + n, info: JSON.parse(json.toString('utf8')) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

// ---- index (.idx next to a sealed segment): magic, entries of 40 bytes, u32 crc of everything before ----

export const INDEX_MAGIC = Buffer.from('BWIDX01\n', 'latin1');
const INDEX_ENTRY_BYTES = 40;

export function encodeIndex(blocks: readonly BlockMeta[]): Buffer {
  const out = Buffer.alloc(8 + blocks.length * INDEX_ENTRY_BYTES + 4);
  INDEX_MAGIC.copy(out, 0);
  let p = 8;
  for (const b of blocks) {
    out.writeDoubleLE(b.offset, p);
    out.writeUInt32LE(b.clen, p + 8);
    out.writeUInt32LE(b.count, p + 12);
    out.writeDoubleLE(b.firstTime, p + 16);
    out.writeDoubleLE(b.lastTime, p + 24);
    out.writeUInt32LE(b.flags, p + 32);
    p += INDEX_ENTRY_BYTES;
  }
  out.writeUInt32LE(crc32(out.subarray(0, p)), p);
  return out;
}

export function decodeIndex(buf: Buffer): BlockMeta[] | undefined {
  if (buf.length < 12 || INDEX_MAGIC.compare(buf, 0, 8) !== 0 || (buf.length - 12) % INDEX_ENTRY_BYTES !== 0)
    return undefined;
  const end = buf.length - 4;
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) return undefined;
  const out: BlockMeta[] = [];
  for (let p = 8; p < end; p += INDEX_ENTRY_BYTES)
    out.push({
      offset: buf.readDoubleLE(p),
      clen: buf.readUInt32LE(p + 8),
      count: buf.readUInt32LE(p + 12),
      firstTime: buf.readDoubleLE(p + 16),
      lastTime: buf.readDoubleLE(p + 24),
      flags: buf.readUInt32LE(p + 32),
    });
  return out;
}
