import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DnsResponder, Resolver, ZoneData, parseRecordArgument } from '../dns/index.js';
import { FtpClient } from '../ftp/client/index.js';
import { FtpServer } from '../ftp/server/server.js';
import { createHost, type Host } from '../host.js';
import { CaptureLink } from '../link/capture.js';
import { FaultLink } from '../link/faults.js';
import type { Link } from '../link/link.js';
import { MemoryHub } from '../link/memory.js';
import { RealClock, VirtualClock, type Clock } from '../stack/clock.js';
import { silentLogger, type Logger } from '../stack/log.js';
import { SeededRandom } from '../stack/random.js';
import { renderHtml } from '../trace/render-html.js';
import { renderMermaid } from '../trace/render-mermaid.js';
import { renderText } from '../trace/render-text.js';
import { dropNoteComment } from '../trace/drop-notes.js';
import { dissect } from '../trace/dissect.js';
import { buildSession, createDissectedExplainer, type SessionModel } from '../trace/session.js';
import { StateRecorder, type ConnectionTrace } from '../trace/state-trace.js';
import { renderStateCsv } from '../trace/render-state.js';
import { formatIpv4 } from '../wire/address.js';
import { readCapture } from '../wire/pcapng.js';
import { createDemoNetwork, type DemoNetwork } from './netns.js';
import { prepareOutDir } from './out-dir.js';
import { runSeedSession } from './scenario.js';
import { createServedTree, DEMO_DIRECTORY, DEMO_FILE } from './served-tree.js';
import { runOnVirtualClock } from './virtual-run.js';

/** The seed's cast: the client is 192.168.0.2; one server host runs DNS and FTP. */
export const DEMO_HOSTNAME = 'ftp.any-domain.com';
export const CLIENT_ADDRESS = '192.168.0.2';
export const SERVER_ADDRESS = '192.168.0.1';
const PREFIX_LENGTH = 24;
/**
 * The memory demo runs on a virtual clock, so its capture's timestamps start here
 * (2026-01-01 00:00 UTC) whenever it runs: the same seed writes the same files.
 */
const DEMO_EPOCH_MS = Date.UTC(2026, 0, 1);
/** One-way delay of the in-memory wire on the virtual clock: round trips of 2 ms, as on a LAN. */
const MEMORY_LATENCY_MS = 1;

export interface DemoOptions {
  /** 'tap': two TAP devices on a bridge in the tapstack-demo namespace (root); 'memory': in-process hub. */
  link: 'tap' | 'memory';
  /** The namespace of TAP mode (default tapstack-demo); tests give each run its own. */
  namespace?: string;
  outDir: string;
  /** Probability that a frame is lost / held back to be overtaken, on the client's link (both directions). */
  loss?: number;
  reorder?: number;
  /** Seeds the hosts' randomness (ISNs, ports, DNS IDs) and the fault injector. */
  seed?: number;
  /**
   * Wall-clock time of the start, for the capture's timestamps (TAP mode; the memory
   * demo's virtual clock starts at DEMO_EPOCH_MS unless this is given).
   */
  epochMs?: number;
  /** One line of console output (the BSD ftp -v transcript). */
  print?: (line: string) => void;
  log?: Logger;
  /** Default: a VirtualClock for the memory link (reproducible), the real clock for TAP. */
  clock?: Clock;
}

export interface DemoResult {
  outDir: string;
  files: { pcapng: string; text: string; mermaid: string; html: string; state: string; download: string };
  model: SessionModel;
  /** Both hosts' TCP state at every frame, per connection (src/trace/state-trace.ts). */
  trace: ConnectionTrace[];
  /** The downloaded readme.txt is byte-identical to the served one. */
  downloadMatches: boolean;
  client: Host;
  server: Host;
}

/**
 * Run the seed session between two of our stacks and write what crossed the wire:
 * the pcapng capture (a comment on every frame) and the sequence diagram as text,
 * Mermaid and HTML. The capture sits on the client's interface, so it holds every
 * frame of the session, as Wireshark on the client machine would see it.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? (() => undefined);
  const clock = options.clock ?? (options.link === 'memory' ? new VirtualClock() : new RealClock());
  const virtual = clock instanceof VirtualClock ? clock : undefined;
  const log = options.log ?? silentLogger;
  const seed = options.seed ?? 1;
  const outDir = path.resolve(options.outDir);
  // Before any device or host exists: an unwritable --out fails here, in one line.
  await prepareOutDir(outDir);
  const served = path.join(outDir, 'served');
  const downloads = path.join(outDir, 'downloads');
  const files = {
    pcapng: path.join(outDir, 'session.pcapng'),
    text: path.join(outDir, 'session.txt'),
    mermaid: path.join(outDir, 'session.mmd'),
    html: path.join(outDir, 'session.html'),
    state: path.join(outDir, 'session-state.csv'),
    download: path.join(downloads, DEMO_FILE),
  };
  await createServedTree(served);
  await mkdir(downloads, { recursive: true });

  let network: DemoNetwork | undefined;
  let clientLink: Link;
  let serverLink: Link;
  if (options.link === 'tap') {
    network = await createDemoNetwork(options.namespace);
    [clientLink, serverLink] = network.links;
  } else {
    const hub = new MemoryHub(clock, { latencyMs: virtual ? MEMORY_LATENCY_MS : 0 });
    clientLink = hub.attach('client');
    serverLink = hub.attach('server');
  }

  // stack -> capture -> faults -> wire: the capture shows what the client sent and
  // what reached it, so a lost segment appears once and then as a retransmission.
  // The fault injector reports every frame it drops, and the capture records it as a
  // note (src/trace/drop-notes.ts), so the diagram draws the loss where it happened.
  // Frames are numbered as the file numbers them (notes included), for the state trace.
  let frameNumber = 0;
  let notes: CaptureLink | undefined; // the capture, once made: it wraps the fault link, so it comes after it
  if (options.loss || options.reorder) {
    clientLink = new FaultLink(clientLink, {
      random: new SeededRandom(seed ^ 0x5eed),
      clock,
      loss: options.loss ?? 0,
      reorder: options.reorder ?? 0,
      onDrop: (frame, direction) => {
        frameNumber++;
        notes?.recordNote(frame, dropNoteComment(direction), direction);
      },
    });
  }
  let recorder: StateRecorder | undefined;
  const explain = createDissectedExplainer(() => BigInt(Math.round(clock.now() * 1000)) * 1000n);
  const capture = new CaptureLink(clientLink, {
    path: files.pcapng,
    clock,
    epochMs: options.epochMs ?? (virtual ? DEMO_EPOCH_MS : 0),
    comment: (frame) => {
      frameNumber++;
      const d = dissect(frame); // once, for both readers of the frame
      recorder?.sampleDissected(d, frameNumber);
      return explain(frame, d);
    },
  });
  notes = capture;

  // TCP's timers do not keep the process alive (an idle stack must not stop Node from
  // exiting), and the in-memory link has no OS handle that would: hold the event loop
  // open ourselves until the session is over (the virtual clock's driver does that).
  const keepAlive = virtual ? undefined : clock.setTimer(24 * 3600_000, () => undefined);

  const server = createHost({ link: serverLink, address: SERVER_ADDRESS, prefixLength: PREFIX_LENGTH, clock, random: new SeededRandom(seed), log: log.child({ host: 'server' }) });
  const client = createHost({ link: capture, address: CLIENT_ADDRESS, prefixLength: PREFIX_LENGTH, clock, random: new SeededRandom(seed + 1), log: log.child({ host: 'client' }) });
  recorder = new StateRecorder(clock, [
    { name: 'client', address: formatIpv4(client.address), tcp: client.tcp },
    { name: 'server', address: formatIpv4(server.address), tcp: server.tcp },
  ]);

  const session = async (): Promise<void> => {
    // The server host: an authoritative DNS responder for the seed's name, and the FTP server.
    const zones = new ZoneData();
    const record = parseRecordArgument(`${DEMO_HOSTNAME}=${SERVER_ADDRESS}`);
    if (typeof record === 'string') throw new Error(record);
    zones.add(record);
    const responder = new DnsResponder({ zones, udp: server.udp, tcp: server.tcp, clock, counters: server.counters });
    responder.start();
    const ftpServer = new FtpServer({ tcp: server.tcp, clock, root: served, random: server.random, logger: log.child({ host: 'server', layer: 'ftp' }), counters: server.counters });
    await ftpServer.listen();

    // The client host: a resolver pointed at the server, and an FTP client in active mode
    // (PORT) with ASCII transfers, so no TYPE command appears, as in the seed.
    // Five rounds instead of glibc's two: with --loss a query and its answer may both be lost twice.
    const resolver = new Resolver({ udp: client.udp, tcp: client.tcp, servers: [SERVER_ADDRESS], clock, random: client.random, counters: client.counters, tries: 5 });
    const ftp = new FtpClient({
      tcp: client.tcp,
      clock,
      lookup: async (name) => (await resolver.resolve4(name))[0]!,
      mode: 'active',
      type: 'A',
    });

    await runSeedSession({ client: ftp, hostname: DEMO_HOSTNAME, downloadDir: downloads, print, now: () => clock.now() });
    // Let the last FINs and ACKs cross before the capture closes.
    await waitForQuiet(capture, clock);
    await ftpServer.close();
    responder.close();
  };

  try {
    if (virtual) await runOnVirtualClock(virtual, session());
    else await session();
  } finally {
    keepAlive?.cancel();
    await client.close();
    await server.close();
    await network?.destroy();
  }

  const [servedBytes, downloadedBytes, captureBytes] = await Promise.all([
    readFile(path.join(served, DEMO_DIRECTORY, DEMO_FILE)),
    readFile(files.download),
    readFile(files.pcapng),
  ]);
  // The model is drawn from the file as written (timestamps, comments), not from the
  // frame explainer's running analysis, which saw the frames without them.
  const written = readCapture(captureBytes);
  if (!written.ok) throw new Error(`cannot read back ${files.pcapng}: ${written.error.message}`);
  const model = buildSession(written.value.packets);
  const title = 'tapstack demo: the seed FTP session';
  await writeFile(files.text, renderText(model, { title }));
  await writeFile(files.mermaid, renderMermaid(model, { title }));
  const trace = recorder.traces();
  await writeFile(files.html, renderHtml(model, { title, trace }));
  await writeFile(files.state, renderStateCsv(trace));

  return { outDir, files, model, trace, downloadMatches: servedBytes.equals(downloadedBytes), client, server };
}

/** Resolve once no frame has crossed the captured link for `quietMs` (or after `maxMs`). */
async function waitForQuiet(capture: CaptureLink, clock: Clock, quietMs = 300, maxMs = 5000): Promise<void> {
  const start = clock.now();
  let seen = capture.stats.frames;
  let since = clock.now();
  while (clock.now() - start < maxMs) {
    await new Promise<void>((resolve) => clock.setTimer(50, resolve));
    if (capture.stats.frames !== seen) {
      seen = capture.stats.frames;
      since = clock.now();
    } else if (clock.now() - since >= quietMs) {
      return;
    }
  }
}
