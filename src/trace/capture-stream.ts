/**
 * Reading a pcap or pcapng file of any size with bounded memory: the file is read in
 * chunks, cut at record (pcap) or block (pcapng) boundaries, and each run of whole
 * records is decoded by the codecs in src/wire (readCapture) behind a copy of the
 * file's header blocks. Memory use depends on the chunk size, not on the file size
 * (`tapstack diagram` on a capture of gigabytes reads it as it goes).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { CapturedPacket } from '../wire/pcap.js';
import { looksLikePcapng, readCapture } from '../wire/pcapng.js';

/** How much is decoded at once. */
const CHUNK = 256 * 1024;
/** A record or block longer than this is not a packet but a damaged file. */
const MAX_RECORD = 64 * 1024 * 1024;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 0x00000001;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;

export class CaptureStreamError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface CaptureStream {
  packets: AsyncGenerator<CapturedPacket>;
  /** Set once the generator finished: the file ended inside a record or block. */
  readonly truncated: boolean;
}

/** Read a capture file packet by packet. Errors are CaptureStreamError (with the byte offset). */
export async function openCaptureStream(path: string): Promise<CaptureStream> {
  const file = await open(path, 'r');
  const state = { truncated: false };
  return {
    packets: generate(file, state),
    get truncated() {
      return state.truncated;
    },
  };
}

/** A window on the file: bytes [start, start + length) are in `buf`. */
class Reader {
  buf = Buffer.alloc(0);
  start = 0;
  eof = false;
  constructor(private readonly file: FileHandle) {}

  /** Make sure bytes [at, at + n) are buffered (fewer only at the end of the file). */
  async need(at: number, n: number): Promise<boolean> {
    while (this.start + this.buf.length < at + n && !this.eof) {
      const chunk = Buffer.alloc(Math.max(CHUNK, at + n - (this.start + this.buf.length)));
      const { bytesRead } = await this.file.read(chunk, 0, chunk.length, this.start + this.buf.length);
      if (bytesRead === 0) this.eof = true;
      this.buf = Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]);
    }
    return this.start + this.buf.length >= at + n;
  }

  slice(from: number, to: number): Buffer {
    return this.buf.subarray(from - this.start, to - this.start);
  }

  /** Forget everything before `at`. */
  drop(at: number): void {
    this.buf = this.buf.subarray(at - this.start);
    this.start = at;
  }
}

async function* generate(file: FileHandle, state: { truncated: boolean }): AsyncGenerator<CapturedPacket> {
  try {
    const r = new Reader(file);
    await r.need(0, 4);
    const head = r.slice(0, Math.min(4, r.buf.length));
    if (looksLikePcapng(head)) yield* pcapng(r, state);
    else yield* pcap(r, state);
  } finally {
    await file.close();
  }
}

/** Decode one run of whole records behind the header; yields its packets. */
function decode(header: Uint8Array, body: Uint8Array, offset: number): CapturedPacket[] {
  const bytes = new Uint8Array(header.length + body.length);
  bytes.set(header, 0);
  bytes.set(body, header.length);
  const r = readCapture(bytes);
  if (!r.ok) throw new CaptureStreamError(r.error.message, offset + Math.max(0, r.error.offset - header.length));
  return r.value.packets;
}

async function* pcap(r: Reader, state: { truncated: boolean }): AsyncGenerator<CapturedPacket> {
  if (!(await r.need(0, PCAP_HEADER))) {
    // Too short for a header: let the codec name the problem.
    decode(new Uint8Array(0), r.slice(0, r.buf.length), 0);
    return;
  }
  const header = Buffer.from(r.slice(0, PCAP_HEADER));
  decode(header, new Uint8Array(0), 0); // checks the magic and version
  const magic = header.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  let at = PCAP_HEADER;
  for (;;) {
    // Gather whole records up to about CHUNK bytes.
    let end = at;
    while (end - at < CHUNK) {
      if (!(await r.need(end, PCAP_RECORD_HEADER))) break;
      const h = r.slice(end, end + PCAP_RECORD_HEADER);
      const captured = le ? h.readUInt32LE(8) : h.readUInt32BE(8);
      if (captured > MAX_RECORD) throw new CaptureStreamError(`a record claims ${captured} bytes: not a packet`, end + 8);
      if (!(await r.need(end, PCAP_RECORD_HEADER + captured))) break;
      end += PCAP_RECORD_HEADER + captured;
    }
    if (end > at) yield* decode(header, r.slice(at, end), at);
    if (end === at) {
      if (r.start + r.buf.length > at) state.truncated = true;
      return;
    }
    r.drop(end);
    at = end;
  }
}

async function* pcapng(r: Reader, state: { truncated: boolean }): AsyncGenerator<CapturedPacket> {
  // The section header and interface descriptions seen so far: every run is decoded
  // behind them, so interface numbers and timestamp units stay right.
  let header: Buffer[] = [];
  let le = true;
  let at = 0;
  for (;;) {
    let end = at;
    const body: Buffer[] = [];
    while (end - at < CHUNK) {
      if (!(await r.need(end, 12))) break;
      const b = r.slice(end, end + 12);
      if (b.readUInt32LE(0) === PCAPNG_SHB) {
        const magic = b.readUInt32LE(8);
        if (magic === PCAPNG_BYTE_ORDER_MAGIC) le = true;
        else if (b.readUInt32BE(8) === PCAPNG_BYTE_ORDER_MAGIC) le = false;
        else throw new CaptureStreamError('section header with an unknown byte-order magic', end + 8);
      }
      const type = le ? b.readUInt32LE(0) : b.readUInt32BE(0);
      const length = le ? b.readUInt32LE(4) : b.readUInt32BE(4);
      if (length < 12 || length % 4 !== 0 || length > MAX_RECORD) throw new CaptureStreamError(`block length ${length} is impossible`, end + 4);
      if (!(await r.need(end, length))) break;
      const block = Buffer.from(r.slice(end, end + length));
      if (type === PCAPNG_SHB) {
        if (body.length > 0) break; // decode what came before the new section first
        header = [block];
      } else if (type === PCAPNG_IDB) header.push(block);
      else body.push(block);
      end += length;
    }
    if (header.length === 0) throw new CaptureStreamError('block before any section header', at);
    if (body.length > 0) yield* decode(Buffer.concat(header), Buffer.concat(body), at);
    else decode(Buffer.concat(header), new Uint8Array(0), at); // validates header-only runs
    if (end === at) {
      if (r.start + r.buf.length > at) state.truncated = true;
      return;
    }
    r.drop(end);
    at = end;
  }
}
