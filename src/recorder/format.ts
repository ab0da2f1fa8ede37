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
 *
 * Segment format versions (the magic 'BWSEG<nn>\n'): 01 stores every consolidated message as its JSON
 * (record kind 1); 02 adds record kinds 3 and 4, consolidated deltas and snapshots in the binary form
 * of binrec.ts, regenerated to the exact JSON on read. Both are read; any other version is refused by name.
 */
import zlib from 'node:zlib';
import { KIND_BIN_DELTA, KIND_BIN_SNAPSHOT, decodeBinary, regenerateJson } from './binrec.js';

/** Format version written by this build, and the versions it reads. */
export const SEGMENT_VERSION = 2;
export const SEGMENT_VERSIONS_READ = [1, 2];
const segmentMagic = (v: number) => Buffer.from(`BWSEG${String(v).padStart(2, '0')}\n`, 'latin1');
export const SEGMENT_MAGIC = segmentMagic(SEGMENT_VERSION);
export const BLOCK_MAGIC = 0x31424742; // 'BWB1' read as u32 LE: format 01 record framing
export const BLOCK_MAGIC_2 = 0x32424742; // 'BWB2': format 02 record framing (see RecordWalker)
export const BLOCK_HEADER_BYTES = 40;
export const RECORD_HEADER_BYTES = 17;
export const FLAG_SNAPSHOT = 1;
/** bit 1: the block's first record is a checkpoint (KIND_CHECKPOINT): book-at and replay `from` may start there. */
export const FLAG_CHECKPOINT = 2;

export type Codec = 'none' | 'gzip' | 'brotli';
const CODEC_IDS: Record<Codec, number> = { none: 0, gzip: 1, brotli: 2 };
const CODEC_NAMES: Codec[] = ['none', 'gzip', 'brotli'];

export type Stream = 'book' | 'raw';

/** kind of a record: a bus payload as received, or a marker the recorder wrote (JSON). */
export const KIND_MESSAGE = 1;
export const KIND_GAP = 2;
/** Consolidated delta / snapshot in binary form (format 02, binrec.ts): read back as KIND_MESSAGE with the exact JSON. */
export { KIND_BIN_DELTA, KIND_BIN_SNAPSHOT };

/**
 * The book as the stream's replica had it (binary snapshot form, reason "checkpoint"), written by the
 * recorder every `checkpointEvents` records: not a received message, skipped by every reader except the
 * ones that rebuild a book from it (book-at, replay `from`, replayBook).
 */
export const KIND_CHECKPOINT = 5;

export const isBinaryKind = (k: number): boolean => k === KIND_BIN_DELTA || k === KIND_BIN_SNAPSHOT;

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
  // one output chunk: the default 16 KiB chunks cost a copy and a concat each
  const chunkSize = Math.max(64 * 1024, buf.length);
  if (o.codec === 'gzip') return zlib.gzipSync(buf, { level: Math.min(o.level, 9), chunkSize });
  return zlib.brotliCompressSync(buf, { ...brotliParams(buf.length, o.level), chunkSize });
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
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_GENERIC,
    },
  };
}

function decompress(codecId: number, buf: Buffer, ulen: number): Buffer {
  const c = CODEC_NAMES[codecId];
  // one output chunk of the known size: the default 16 KiB chunks cost a copy and a concat each
  const chunkSize = Math.max(64, ulen + 1);
  if (c === 'none') return buf;
  if (c === 'gzip') return zlib.gunzipSync(buf, { chunkSize });
  if (c === 'brotli') return zlib.brotliDecompressSync(buf, { chunkSize });
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
  version: 1 | 2 = 2,
): Buffer {
  const out = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + compressed.length);
  out.writeUInt32LE(version === 2 ? BLOCK_MAGIC_2 : BLOCK_MAGIC, 0);
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
): (BlockMeta & { codec: number; ulen: number; crc: number; version: 1 | 2 }) | undefined {
  if (h.length < BLOCK_HEADER_BYTES) return undefined;
  const magic = h.readUInt32LE(0);
  if (magic !== BLOCK_MAGIC && magic !== BLOCK_MAGIC_2) return undefined;
  const version = magic === BLOCK_MAGIC ? 1 : 2;
  const codec = h.readUInt8(4);
  if (codec >= CODEC_NAMES.length) return undefined;
  const clen = h.readUInt32LE(8);
  const ulen = h.readUInt32LE(12);
  const count = h.readUInt32LE(16);
  if (count === 0 || ulen < count * (version === 1 ? RECORD_HEADER_BYTES : RECORD2_MIN_BYTES)) return undefined;
  return {
    version,
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

/** Verify a whole block (header + payload) and return its uncompressed payload; throws FormatError on any damage. */
export function blockBody(block: Buffer): { body: Buffer; count: number; version: 1 | 2; firstTime: number } {
  const m = parseBlockHeader(block, 0);
  if (!m) throw new FormatError('bad block header');
  if (block.length !== BLOCK_HEADER_BYTES + m.clen) throw new FormatError('truncated block');
  if (!blockCrcOk(block)) throw new FormatError('block checksum mismatch');
  let body: Buffer;
  try {
    body = decompress(m.codec, block.subarray(BLOCK_HEADER_BYTES), m.ulen);
  } catch (e) {
    throw new FormatError(`block does not decompress: ${(e as Error).message}`);
  }
  if (body.length !== m.ulen) throw new FormatError('block length mismatch');
  return { body, count: m.count, version: m.version, firstTime: m.firstTime };
}

/** Smallest format-02 record: kind, length, time delta. */
export const RECORD2_MIN_BYTES = 3;
/** Format 02: bit 7 of the kind byte says the time is a f64 (not a varint delta). */
export const KIND_F64_TIME = 0x80;

/**
 * Walks the records of one uncompressed block payload: `next()` moves to the next record and sets kind,
 * time, and the body's [start, end). Format 01 (BWB1): u32 len | u32 crc | u8 kind | f64 time | body.
 * Format 02 (BWB2): u8 kind | varint body length | time | body, where time is a zigzag varint of the
 * difference to the previous record's time (the block's firstTime for the first), or with kind bit 7 a
 * f64; no per-record CRC (the block CRC covers every stored byte; 4 random bytes a record would not
 * compress and cost ~10 % of the file).
 */
export class RecordWalker {
  kind = 0;
  time = 0;
  start = 0;
  end = 0;
  private p = 0;

  constructor(
    readonly body: Buffer,
    readonly version: 1 | 2,
    firstTime: number,
  ) {
    this.time = firstTime;
  }

  next(): boolean {
    const b = this.body;
    let p = this.p;
    if (p >= b.length) return false;
    if (this.version === 1) {
      this.kind = b[p + 8];
      this.time = b.readDoubleLE(p + 9);
      this.start = p + RECORD_HEADER_BYTES;
      this.p = this.end = p + 8 + b.readUInt32LE(p);
      return true;
    }
    const k = b[p++];
    let x = b[p++];
    let len = x & 127;
    for (let mul = 128; x >= 128; mul *= 128) {
      x = b[p++];
      len += (x & 127) * mul;
    }
    if (k & KIND_F64_TIME) {
      this.time = b.readDoubleLE(p);
      p += 8;
    } else {
      x = b[p++];
      let z = x & 127;
      for (let mul = 128; x >= 128; mul *= 128) {
        x = b[p++];
        z += (x & 127) * mul;
      }
      this.time += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    this.kind = k & 127;
    this.start = p;
    this.p = this.end = p + len;
    return true;
  }

  /** Check the framing of the whole payload (every record in bounds, `count` of them); then rewind. */
  check(count: number): void {
    const b = this.body;
    let n = 0;
    let ok = true;
    if (this.version === 1) {
      let p = 0;
      while (p + RECORD_HEADER_BYTES <= b.length) {
        const l = b.readUInt32LE(p);
        if (l < 9) break;
        p += 8 + l;
        n++;
      }
      ok = p === b.length;
    } else {
      const t0 = this.time;
      while (this.p < b.length && n <= count) {
        // a varint or f64 running past the end reads undefined -> NaN bounds; checked below
        this.next();
        if (!(this.end <= b.length && this.start <= this.end)) {
          ok = false;
          break;
        }
        n++;
      }
      ok = ok && this.p === b.length;
      this.p = 0;
      this.time = t0;
    }
    if (!ok || n !== count) throw new FormatError('bad record framing');
  }
}

/** Width of the (zero-padded) varint length field for bodies up to `maxLen` bytes. */
export const lenWidth = (maxLen: number): number => (maxLen < 128 ? 1 : maxLen < 16384 ? 2 : maxLen < 2097152 ? 3 : 4);

/**
 * Write a format-02 record header at buf[p] for a body of `len` bytes (length field `width` bytes wide,
 * zero-padded); returns where the body starts.
 */
export function writeRecordHeader2(
  buf: Buffer,
  p: number,
  kind: number,
  len: number,
  width: number,
  time: number,
  prevTime: number,
): number {
  const d = time - prevTime;
  const asF64 = !(d === Math.floor(d) && d < 2 ** 52 && d > -(2 ** 52));
  buf[p++] = asF64 ? kind | KIND_F64_TIME : kind;
  for (let i = 1; i < width; i++) {
    buf[p++] = (len % 128) | 128;
    len = Math.floor(len / 128);
  }
  buf[p++] = len;
  if (asF64) {
    buf.writeDoubleLE(time, p);
    return p + 8;
  }
  let z = d >= 0 ? d * 2 : -d * 2 - 1;
  while (z >= 128) {
    buf[p++] = (z % 128) | 128;
    z = Math.floor(z / 128);
  }
  buf[p++] = z;
  return p;
}

/** Bytes writeRecordHeader2 takes at most for a length field of `width` bytes. */
export const recordHeader2Max = (width: number): number => 1 + width + 9;

/**
 * Decode a whole block (header + payload) into its records, as received: binary consolidated records come
 * back as KIND_MESSAGE with their JSON regenerated. Throws FormatError on any damage. The block CRC covers
 * every byte; for format 01 blocks `verifyRecords` also checks each record's own CRC (recovery and tests).
 */
export function decodeBlock(block: Buffer, verifyRecords = true): Rec[] {
  const { body, count, version, firstTime } = blockBody(block);
  const w = new RecordWalker(body, version, firstTime);
  w.check(count);
  const out: Rec[] = [];
  while (w.next()) {
    const { kind, time, start, end } = w;
    if (kind === KIND_CHECKPOINT) continue; // not a received message
    if (version === 1 && verifyRecords && crc32(body.subarray(start - 9, end)) !== body.readUInt32LE(start - 13))
      throw new FormatError('record checksum mismatch');
    if (isBinaryKind(kind)) {
      let bytes: Buffer;
      try {
        bytes = regenerateJson(decodeBinary(kind, body, start, end, time));
      } catch (e) {
        throw new FormatError(`bad binary record: ${(e as Error).message}`);
      }
      out.push({ kind: KIND_MESSAGE, time, bytes });
    } else out.push({ kind, time, bytes: body.subarray(start, end) });
  }
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

/**
 * A valid segment header at the start of buf (its length, JSON and format version), or undefined. A
 * header of a version this build does not read throws UnsupportedVersionError (never mistaken for damage).
 */
export function parseSegmentHeader(
  buf: Buffer,
): { length: number; info: Record<string, unknown>; version: number } | undefined {
  if (buf.length < 16) return undefined;
  const version = segmentVersion(buf);
  if (version === undefined) return undefined;
  if (!SEGMENT_VERSIONS_READ.includes(version)) throw new UnsupportedVersionError(version);
  const n = buf.readUInt32LE(8);
  if (buf.length < 16 + n) return undefined;
  const json = buf.subarray(16, 16 + n);
  if (crc32(json) !== buf.readUInt32LE(12)) return undefined;
  try {
    return { length: 16 + n, info: JSON.parse(json.toString('utf8')) as Record<string, unknown>, version };
  } catch {
    return undefined;
  }
}

/** Format version in a segment's first 8 bytes ('BWSEG<nn>\n'), or undefined if it is not a segment. */
export function segmentVersion(buf: Buffer): number | undefined {
  if (buf.length < 8 || buf.toString('latin1', 0, 5) !== 'BWSEG' || buf[7] !== 10) return undefined;
  const d = buf.toString('latin1', 5, 7);
  return /^\d\d$/.test(d) ? Number(d) : undefined;
}

export class UnsupportedVersionError extends FormatError {
  constructor(readonly version: number) {
    super(
      `recording format version ${String(version).padStart(2, '0')} is not supported by this bookwire ` +
        `(it reads versions ${SEGMENT_VERSIONS_READ.map((v) => String(v).padStart(2, '0')).join(' and ')}); ` +
        'use a newer bookwire',
    );
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
