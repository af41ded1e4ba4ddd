/**
 * TAP offload (TapOptions.offload, `--offload`) against the real Linux kernel:
 * 64 MiB each way between the kernel's TCP (python3 in a namespace) and ours, over a
 * TAP opened with IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4).
 *
 * kernel -> stack: the kernel sends TCP super-frames of up to 64 KiB whose checksum
 *   it left for us (NEEDS_CSUM); the binding finishes it, our TCP verifies it.
 * stack -> kernel: our TCP sends super-segments of many MSS; the kernel takes them
 *   with gso_type TCPV4 and gso_size = MSS.
 * Both ends hash what they sent and received (sha256), and tshark reads the capture,
 * in which every super-frame carries a comment saying what it is.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { offloadHostOptions } from '../../src/cli/common.js';
import { createHost, type Host } from '../../src/host.js';
import { CaptureLink } from '../../src/link/capture.js';
import { TapLink } from '../../src/link/tap.js';
import { RealClock } from '../../src/stack/clock.js';
import { describeTap } from './support/gate.js';
import { createNamespace, type Namespace } from './support/netns.js';

const MIB = 1 << 20;
const SIZE = 64 * MIB;

/**
 * python3 in the namespace: `send HOST PORT` connects and sends SIZE bytes (64
 * different pseudo-random MiB), `recv HOST PORT` listens and reads to EOF. Each
 * prints one JSON line: bytes and their sha256.
 */
const PEER = String.raw`
import hashlib, json, random, socket, sys
role, host, port, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, n = hashlib.sha256(), 0
if role == 'send':
    s = socket.create_connection((host, port), timeout=120)
    for i in range(size >> 20):
        chunk = random.Random(i).randbytes(1 << 20)
        s.sendall(chunk); h.update(chunk); n += len(chunk)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
else:
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(1)
    print('listening', flush=True)
    s, _ = l.accept(); s.settimeout(120)
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        h.update(memoryview(buf)[:k]); n += k
s.close()
print(json.dumps({'bytes': n, 'sha256': h.hexdigest()}), flush=True)
`;

const lastJson = (stdout: string): { bytes: number; sha256: string } =>
  JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}');

describeTap('TAP offload: 64 MiB each way with the kernel, checksums and super-frames', () => {
  let space: Namespace;
  let tap: TapLink;
  let capture: CaptureLink;
  let host: Host;
  let dir: string;
  let pcap: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-offload-'));
    pcap = join(dir, 'offload.pcapng');
    space = await createNamespace('offload');
    tap = TapLink.open({ name: space.deviceName(0), offload: true });
    // Created here in the root namespace (unconfigured), moved at once into the test's.
    const moved = spawnSync('ip', ['link', 'set', tap.name, 'netns', space.ns], { encoding: 'utf8' });
    if (moved.status !== 0) {
      await tap.close();
      throw new Error(`ip link set ${tap.name} netns ${space.ns}: ${moved.stderr}`);
    }
    await space.ip(['addr', 'add', '10.0.0.1/24', 'dev', tap.name]);
    await space.ip(['link', 'set', tap.name, 'up']);
    const clock = new RealClock();
    // Headers are enough for tshark; 128 MiB of payload would only fill the disk.
    capture = new CaptureLink(tap, { path: pcap, clock, snaplen: 128 });
    host = createHost({
      link: capture,
      address: '10.0.0.2',
      prefixLength: 24,
      clock,
      // What --offload sets: super-segments from IP and TCP, 4 MiB TCP buffers.
      ...offloadHostOptions(tap),
    });
  }, 30_000);

  afterAll(async () => {
    await host?.close();
    await space?.stopPeers();
    await space?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('turns on the kernel side offloads (ethtool -k: TSO on)', async () => {
    expect(tap.offload).toBe(true);
    expect(tap.superFrameMtu).toBe(65535);
    const r = await space.exec('ethtool', ['-k', tap.name]);
    expect(r.stdout).toMatch(/tcp-segmentation-offload: on/);
    expect(r.stdout).toMatch(/tx-checksumming: on/);
  });

  it('kernel -> stack: 64 MiB arrive intact, as super-frames whose checksums the binding finished', async () => {
    const before = tap.stats;
    const received = receiveOnce(host, 5001);
    const sent = await space.exec('python3', ['-c', PEER, 'send', '10.0.0.2', '5001', String(SIZE)], { timeoutMs: 150_000 });
    expect(sent.code, sent.stderr).toBe(0);
    const ours = await received;
    expect(ours).toEqual(lastJson(sent.stdout));
    expect(ours.bytes).toBe(SIZE);

    const after = tap.stats;
    expect(after.rxSuperFrames - before.rxSuperFrames).toBeGreaterThan(0);
    expect(after.rxChecksumsCompleted - before.rxChecksumsCompleted).toBeGreaterThan(0);
    expect(after.rxBadVnetHeaders).toBe(0);
    // Our TCP verified every finished checksum: none failed.
    const bad = Object.entries(host.counters.snapshot()).filter(([k, v]) => /checksum/.test(k) && v > 0);
    expect(bad).toEqual([]);
  }, 180_000);

  it('stack -> kernel: 64 MiB arrive intact, sent as super-segments the kernel cut', async () => {
    const before = tap.stats;
    const r = await sendToKernel(space, host, 6001, SIZE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report).toEqual(r.sent);
    expect(tap.stats.txSuperFrames - before.txSuperFrames).toBeGreaterThan(0);
  }, 180_000);

  it('tshark reads the capture, and every super-frame is marked in a comment, both ways', async () => {
    await capture.close();
    const fields = ['frame.number', 'ip.len', 'frame.comment', 'ip.src'];
    const r = await space.exec('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], {
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(capture.stats.frames);
    const big = rows.filter((row) => Number(row[1]) > 1500);
    expect(big.length).toBeGreaterThan(0);
    expect(big.every((row) => /^offload super-frame: \d+ bytes of TCP payload/.test(row[2] ?? ''))).toBe(true);
    // From the kernel (10.0.0.1) and from us (10.0.0.2).
    expect(new Set(big.map((row) => row[3]))).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
    // Frames that fit the MTU carry no such comment.
    expect(rows.some((row) => Number(row[1]) <= 1500 && /offload/.test(row[2] ?? ''))).toBe(false);
  }, 150_000);
});

/** Tcp InCsumErrors of a namespace (/proc/net/snmp is per network namespace). */
async function tcpInCsumErrors(space: Namespace): Promise<number> {
  const lines = (await space.exec('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('InCsumErrors')]);
}

describeTap('TAP offload without a capture: the stack leaves TCP checksums to the binding', () => {
  // No capture in between, so the link's checksum offload reaches the stack: TCP
  // leaves the checksum field 0, and the binding writes the pseudo-header sum of a
  // super-frame (NEEDS_CSUM) and the whole checksum of every other TCP frame.
  const SMALL = 16 * MIB;
  let space: Namespace;
  let tap: TapLink;
  let host: Host;

  beforeAll(async () => {
    space = await createNamespace('offcsum');
    tap = TapLink.open({ name: space.deviceName(0), offload: true });
    const moved = spawnSync('ip', ['link', 'set', tap.name, 'netns', space.ns], { encoding: 'utf8' });
    if (moved.status !== 0) {
      await tap.close();
      throw new Error(`ip link set ${tap.name} netns ${space.ns}: ${moved.stderr}`);
    }
    await space.ip(['addr', 'add', '10.0.0.1/24', 'dev', tap.name]);
    await space.ip(['link', 'set', tap.name, 'up']);
    host = createHost({ link: tap, address: '10.0.0.2', prefixLength: 24, clock: new RealClock(), ...offloadHostOptions(tap) });
  }, 30_000);

  afterAll(async () => {
    await host?.close();
    await space?.stopPeers();
    await space?.remove();
  });

  it('stack -> kernel: 16 MiB arrive intact, the kernel counts no checksum error', async () => {
    expect(tap.checksumOffload).toEqual({ tx: true, rx: true });
    const errorsBefore = await tcpInCsumErrors(space);
    const before = tap.stats;
    const r = await sendToKernel(space, host, 6002, SMALL);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report).toEqual(r.sent);
    expect(tap.stats.txSuperFrames - before.txSuperFrames).toBeGreaterThan(0);
    expect(await tcpInCsumErrors(space)).toBe(errorsBefore);
  }, 120_000);

  it('kernel -> stack: 16 MiB arrive intact; the frames whose checksum the binding finished count as verified', async () => {
    const before = tap.stats;
    const received = receiveOnce(host, 5002);
    const sent = await space.exec('python3', ['-c', PEER, 'send', '10.0.0.2', '5002', String(SMALL)], { timeoutMs: 100_000 });
    expect(sent.code, sent.stderr).toBe(0);
    expect(await received).toEqual(lastJson(sent.stdout));
    const after = tap.stats;
    expect(after.rxChecksumsCompleted - before.rxChecksumsCompleted).toBeGreaterThan(0);
    expect(after.rxChecksumGood - before.rxChecksumGood).toBeGreaterThanOrEqual(after.rxChecksumsCompleted - before.rxChecksumsCompleted);
    expect(after.rxChecksumBad).toBe(0);
  }, 120_000);
});

/** The first connection to `port` of `host`: everything it sends, as a count and sha256, once it ends. */
function receiveOnce(host: Host, port: number): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const server = host.tcp.listen({ port }, (socket) => {
      server.close();
      const h = createHash('sha256');
      let bytes = 0;
      socket.on('data', (chunk: Uint8Array) => {
        h.update(chunk);
        bytes += chunk.length;
      });
      socket.on('error', reject);
      socket.on('end', () => {
        socket.end();
        resolve({ bytes, sha256: h.digest('hex') });
      });
    });
  });
}

/**
 * Our host sends `size` random bytes to a python3 receiver on the kernel side
 * (10.0.0.1:port) and closes; resolves once the receiver exited, with its exit code,
 * its report (bytes and sha256) and the same figures of what we sent.
 */
async function sendToKernel(
  space: Namespace,
  host: Host,
  port: number,
  size: number,
): Promise<{ code: number | null; stderr: string; report: unknown; sent: { bytes: number; sha256: string } }> {
  const peer = space.spawn('python3', ['-c', PEER, 'recv', '10.0.0.1', String(port), String(size)]);
  let out = '';
  let err = '';
  peer.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  peer.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => peer.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    peer.stdout!.on('data', () => out.includes('listening') && resolve());
    void exited.then(() => reject(new Error(`receiver exited: ${err}`)));
  });
  const socket = host.tcp.connect({ host: '10.0.0.1', port });
  socket.resume();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const h = createHash('sha256');
  for (let i = 0; i < size / MIB; i++) {
    const chunk = randomBytes(MIB);
    h.update(chunk);
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
  const code = await exited;
  return { code, stderr: err, report: lastJson(out), sent: { bytes: size, sha256: h.digest('hex') } };
}
