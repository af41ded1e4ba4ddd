/**
 * The model behind `tapstack diagram`: a capture becomes a list of typed events in
 * the shape of the seed's sequence diagram (../shared/seeds/): participants with
 * their ports as columns, section headings, small step headings, and one message per
 * TCP segment or DNS datagram with its name ("TCP SYN", "FTP 220", "PORT ..."), its
 * fields as the seed writes them (`srcport = 1175, dstport = 21, syn = 1`) and an
 * explanation in the seed's words.
 *
 * The analyzer is incremental: `add()` takes one frame and returns its message at
 * once, so the same code can explain frames while a capture is being written (the
 * pcapng comments of `tapstack demo`) and draw a whole file afterwards.
 *
 * It recognises DNS (UDP port 53), the FTP control connection (TCP port 21) and the
 * FTP data connections, whose endpoints it learns from PORT/EPRT commands and
 * PASV/EPSV replies on the control connection (plus port 20 as a fallback for
 * captures that start in the middle of a session).
 */
import { formatIpv4, parseIpv4, type Ipv4Address } from '../wire/address.js';
import { DnsClass, typeName } from '../wire/dns.js';
import { formatTcpFlags, TcpFlags } from '../wire/tcp.js';
import { parseEprtArgument, parseEpsvReply, parsePasvReply, parsePortArgument } from '../ftp/common/hostport.js';
import { dissect, LINKTYPE_ETHERNET, type Dissected, type DissectedTcp, type DissectedUdp, type HeaderLayer } from './dissect.js';
import { FtpLineReader, type FtpCommandLine, type FtpLine, type FtpReplyLine } from './ftp-lines.js';
import { InOrderStream } from './in-order-stream.js';
import { TcpConnectionAnalysis, type SegmentAnalysis } from './tcp-analysis.js';
import * as words from './words.js';
import { LINKTYPE_NOTE } from '../wire/pcap.js';
import type { PacketDirection } from '../wire/pcap.js';

export type Transport = 'tcp' | 'udp';

export interface Endpoint {
  transport: Transport;
  address: Ipv4Address;
  port: number;
}

export type MessageKind = 'dns' | 'ftp-control' | 'ftp-data' | 'tcp' | 'udp';

export interface SessionMessage {
  /** Frame number in the capture, 1-based as in Wireshark (frames we skip count too). */
  frame: number;
  timestampNs: bigint;
  from: Endpoint;
  to: Endpoint;
  kind: MessageKind;
  /** "TCP SYN", "FTP 220", "USER ftp", "FTP DATA+FIN", "DNS Query"... */
  name: string;
  /** The seed's field line: "srcport = 1175, dstport = 21, syn = 1". */
  fields: string;
  /** What happens, in the seed's words. */
  explanation: string;
  /** Wireshark-style analysis labels: "TCP Retransmission", "TCP Dup ACK #2"... */
  labels: string[];
  /** Every decoded header, for the HTML page. */
  layers: HeaderLayer[];
  /** Relative sequence numbers of a TCP segment. */
  tcp?: { seq: number; ack: number; length: number; flags: string; window: number };
  /** The pcapng comment the capture already carried for this frame, if any. */
  captureComment?: string;
  /**
   * The frame never arrived: a fault injector dropped it, on the way out (after the
   * capture saw it leave) or on the way in (the capture recorded only a drop note).
   */
  lost?: PacketDirection;
}

export type TimelineItem =
  | { type: 'section'; title: string }
  | { type: 'step'; title: string }
  | { type: 'message'; message: SessionMessage };

export type Role = 'ftp-client' | 'dns' | 'ftp-server' | 'host';

export interface Column {
  /** `tcp:192.168.0.2:41338` */
  key: string;
  endpoint: Endpoint;
  /**
   * A folded column: the endpoints (keys) of all of a host's data connections drawn
   * as one lifeline, labelled `label`; each message's fields name its ports.
   */
  members?: string[];
  label?: string;
}

/** The endpoint keys a column stands for. */
export function columnKeys(c: Column): string[] {
  return c.members ?? [c.key];
}

/** What the diagrams print above a column: its port ("53/udp", "21") or "data". */
export function columnLabel(c: Column): string {
  return c.label ?? portLabel(c.endpoint);
}

/**
 * A host with more data connections than this gets one "data" column for all of them:
 * the seed's two (5001, 5002) keep their own, a client that lists 40 directories
 * does not make the diagram 40 columns wide.
 */
export const MAX_DATA_COLUMNS = 2;

export interface Participant {
  role: Role;
  /** "FTP Client", "DNS", "FTP Server", "Host 10.0.0.9" */
  label: string;
  address: Ipv4Address;
  columns: Column[];
}

export interface SessionModel {
  participants: Participant[];
  items: TimelineItem[];
  messages: SessionMessage[];
  /** Frames that are not drawn (ARP, ICMP, IPv6, other protocols), by summary. */
  skipped: Record<string, number>;
  /** Frames that did not parse, by "layer: error". */
  malformed: Record<string, number>;
  frames: number;
}

export function endpointKey(e: Endpoint): string {
  return `${e.transport}:${formatEndpoint(e)}`;
}

/** "192.168.0.2:41338" */
export function formatEndpoint(e: Endpoint): string {
  return `${formatIpv4(e.address)}:${e.port}`;
}

/** A column's port as the diagrams print it: "53/udp" for UDP, the bare number for TCP. */
function portLabel(e: Endpoint): string {
  return e.transport === 'udp' ? `${e.port}/udp` : String(e.port);
}

/** "TCP ACK [TCP Dup ACK #1]": the message's name with its analysis labels, as every view shows it. */
export function messageTitle(m: SessionMessage): string {
  return m.labels.length > 0 ? `${m.name} [${m.labels.join(', ')}]` : m.name;
}

type Purpose = { verb: string; arg: string };

interface Connection {
  key: string;
  role: 'control' | 'data' | 'other';
  /** Endpoint that opened the connection (sent the SYN), or the first sender seen. */
  initiator: string;
  analysis: TcpConnectionAnalysis;
  /** For data connections: the transfer command (LIST, RETR...) it serves. */
  purpose?: Purpose;
  /** Endpoints (keys) that sent a FIN, in order. */
  fins: string[];
  synSeen: boolean;
  handshakeDone: boolean;
  dataSeen: boolean;
  readers?: Map<string, FtpLineReader>;
  /** Control connections: each direction's bytes in sequence order (see in-order-stream.ts). */
  streams?: Map<string, InOrderStream<WaitingSegment>>;
  /** Name of the last payload segment of each sender, and where it ended (relative). */
  lastPayload: Map<string, { name: string; end: number }>;
  /** A step heading to show before the next message of this connection. */
  pendingStep?: string;
}

/** A control segment that arrived ahead of a gap: its message is explained once the gap fills. */
interface WaitingSegment {
  message?: SessionMessage;
  /** The TCP analysis note that leads the explanation ("A gap before byte ..."). */
  note: string;
}

type SectionKind = 'dns' | 'login' | 'transfer' | 'cwd' | 'logout' | 'other';

interface OpenSection {
  item: { type: 'section'; title: string };
  kind: SectionKind;
  /** Transfer sections: the PORT-like verb seen, and whether the transfer command came. */
  portVerb?: string;
  transferVerb?: string;
  transferDone?: boolean;
}

const TRANSFER_VERBS = new Set(['LIST', 'NLST', 'MLSD', 'RETR', 'STOR', 'STOU', 'APPE']);
const PREPARE_VERBS = new Set(['PORT', 'EPRT', 'PASV', 'EPSV', 'LPRT', 'LPSV', 'TYPE', 'SIZE', 'REST', 'MODE', 'STRU', 'ALLO']);
const PORT_VERBS = new Set(['PORT', 'EPRT', 'PASV', 'EPSV']);

export interface AddFrame {
  data: Uint8Array;
  timestampNs?: bigint;
  linktype?: number;
  comment?: string;
  /** pcapng epb_flags: which way the frame went at the capture point. */
  direction?: PacketDirection;
}

/** How many recent messages a drop note may refer back to (the frame it says was lost). */
const RECENT_FOR_NOTES = 64;

export class SessionAnalyzer {
  private frames = 0;
  private readonly items: TimelineItem[] = [];
  private readonly messages: SessionMessage[] = [];
  private readonly skipped: Record<string, number> = {};
  private readonly malformed: Record<string, number> = {};
  private readonly connections = new Map<string, Connection>();
  /** Data endpoints announced on the control connection: key -> who will connect. */
  private readonly expectedData = new Map<string, 'server-connects' | 'client-connects'>();
  private control: Connection | null = null;
  private ftpClient: Ipv4Address | null = null;
  private ftpServer: Ipv4Address | null = null;
  /** FTP commands waiting for their final reply (RFC 959 replies come in order). */
  private readonly pendingCommands: FtpCommandLine[] = [];
  private user = '';
  /** The latest transfer command, and whether a PORT/PASV came after it. */
  private lastTransfer: Purpose | null = null;
  private portSinceTransfer = true;
  private section: OpenSection | null = null;
  private readonly endpointOrder: Endpoint[] = [];
  private readonly endpointSeen = new Set<string>();
  /** Endpoints of FTP data connections (keys), for folding their columns. */
  private readonly dataEndpoints = new Set<string>();
  /** The last messages with their bytes, to find the frame an outbound drop note names. */
  private readonly recent: { data: Uint8Array; message: SessionMessage }[] = [];

  /** Frames seen so far (the number of the last one). */
  get frameCount(): number {
    return this.frames;
  }

  /** Analyze the next frame of the capture; returns its message, or null when not drawn. */
  add(frame: AddFrame): SessionMessage | null {
    if (frame.linktype === LINKTYPE_NOTE) return this.dropNote(frame);
    const message = this.addDissected(dissect(frame.data, frame.linktype ?? LINKTYPE_ETHERNET), frame);
    if (message) {
      this.recent.push({ data: frame.data, message });
      if (this.recent.length > RECENT_FOR_NOTES) this.recent.shift();
    }
    return message;
  }

  /**
   * A drop note (src/trace/drop-notes.ts). An outbound frame was captured as it left
   * and then lost: its message is marked lost. An inbound frame never reached the
   * capture point: it becomes a message of its own, drawn as lost. Neither touches the
   * TCP analysis, which (like Wireshark's) judges only what crossed the capture point.
   */
  private dropNote(frame: AddFrame): SessionMessage | null {
    this.frames++;
    const direction = frame.direction ?? 'inbound';
    if (direction === 'outbound') {
      for (let i = this.recent.length - 1; i >= 0; i--) {
        const r = this.recent[i]!;
        if (!r.message.lost && Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).equals(frame.data)) {
          markLost(r.message, direction);
          return null;
        }
      }
    }
    const d = dissect(frame.data, LINKTYPE_ETHERNET);
    if (d.kind !== 'tcp' && d.kind !== 'udp') {
      this.skipped['lost frame'] = (this.skipped['lost frame'] ?? 0) + 1;
      return null;
    }
    return this.record(this.lostMessage(d, frame, direction), frame);
  }

  /** Put a message on the timeline, with the capture's comment, and note its endpoints. */
  private record(message: SessionMessage, frame: AddFrame): SessionMessage {
    if (frame.comment !== undefined) message.captureComment = frame.comment;
    this.note(message.from);
    this.note(message.to);
    this.messages.push(message);
    this.items.push({ type: 'message', message });
    return message;
  }

  /** A message for a frame that never reached the capture point, named from its bytes alone. */
  private lostMessage(d: DissectedTcp | DissectedUdp, frame: AddFrame, direction: PacketDirection): SessionMessage {
    const base = { frame: this.frames, timestampNs: frame.timestampNs ?? 0n, labels: [], layers: d.layers, explanation: '' };
    let message: SessionMessage;
    if (d.kind === 'udp') {
      const from: Endpoint = { transport: 'udp', address: d.ip.src, port: d.udp.srcPort };
      const to: Endpoint = { transport: 'udp', address: d.ip.dst, port: d.udp.dstPort };
      const name = d.dns ? (d.dns.header.qr ? 'DNS Response' : 'DNS Query') : 'UDP';
      message = { ...base, from, to, kind: d.dns ? 'dns' : 'udp', name, fields: `srcport = ${from.port}, dstport = ${to.port}` };
    } else {
      const from: Endpoint = { transport: 'tcp', address: d.ip.src, port: d.tcp.srcPort };
      const to: Endpoint = { transport: 'tcp', address: d.ip.dst, port: d.tcp.dstPort };
      const fromKey = endpointKey(from);
      const toKey = endpointKey(to);
      const conn = this.connections.get(connectionKey(fromKey, toKey));
      const f = controlBits(d.tcp.flags);
      let name = f.name;
      const kind = messageKind(conn?.role ?? 'other');
      if (d.payload.length > 0) {
        if (kind === 'ftp-control') {
          const text = Buffer.from(d.payload).toString('latin1').split(/\r?\n/)[0] ?? '';
          const code = /^(\d{3})[ -]/.exec(text);
          name = code ? `FTP ${code[1]}` : text.split(' ')[0]!.toUpperCase() || 'FTP';
        } else name = kind === 'ftp-data' ? 'FTP DATA' : 'TCP DATA';
        if (f.fin) name += '+FIN';
      }
      message = { ...base, from, to, kind, name, fields: `srcport = ${from.port}, dstport = ${to.port}${f.fields ? `, ${f.fields}` : ''}` };
    }
    markLost(message, direction);
    return message;
  }

  /** `add` for a frame the caller has dissected already (`d` is `dissect(frame.data)`). */
  addDissected(d: Dissected, frame: AddFrame): SessionMessage | null {
    this.frames++;
    let message: SessionMessage | null = null;
    if (d.kind === 'tcp') message = this.tcp(d, frame);
    else if (d.kind === 'udp') message = this.udp(d, frame);
    else if (d.kind === 'other') this.skipped[d.summary] = (this.skipped[d.summary] ?? 0) + 1;
    else {
      const why = `${d.layer}: ${d.error}`;
      this.malformed[why] = (this.malformed[why] ?? 0) + 1;
    }
    return message ? this.record(message, frame) : null;
  }

  /** The model so far (call after the last frame). */
  model(): SessionModel {
    return {
      participants: this.participants(),
      items: this.items.filter((item, i) => !(item.type !== 'message' && this.items[i + 1]?.type === 'section')),
      messages: this.messages,
      skipped: { ...this.skipped },
      malformed: { ...this.malformed },
      frames: this.frames,
    };
  }

  // -------------------------------------------------------------------------------
  // UDP and DNS

  private udp(d: DissectedUdp, frame: AddFrame): SessionMessage {
    const from: Endpoint = { transport: 'udp', address: d.ip.src, port: d.udp.srcPort };
    const to: Endpoint = { transport: 'udp', address: d.ip.dst, port: d.udp.dstPort };
    const base = { frame: this.frames, timestampNs: frame.timestampNs ?? 0n, from, to, labels: [], layers: d.layers };
    if (!d.dns) {
      return { ...base, kind: 'udp', name: 'UDP', fields: `srcport = ${from.port}, dstport = ${to.port}, length = ${d.payload.length}`, explanation: words.udpDatagram(d.payload.length) };
    }
    const m = d.dns;
    if (!this.control && this.section?.kind !== 'dns') this.openSection('dns', words.SECTION_DNS);
    const rd = m.header.rd ? 1 : 0;
    const q = m.questions[0];
    if (!m.header.qr) {
      const fields = [`recdesired = ${rd}`, `queries = ${m.questions.length}`];
      if (q) fields.push(`name = ${q.name}`, `type = ${typeName(q.type)}`, `class = ${q.class === DnsClass.IN ? 'IN' : q.class}`);
      return { ...base, kind: 'dns', name: 'DNS Query', fields: fields.join(', '), explanation: words.dnsQuery(q?.name ?? '(no question)') };
    }
    const addresses = m.answers.flatMap((a) => (a.data.kind === 'A' ? [formatIpv4(a.data.address)] : []));
    const fields = [`recdesired = ${rd}`, `answers = ${m.answers.length}`];
    if (addresses.length > 0) fields.push(`IP Address = ${addresses.join(', ')}`);
    if (m.header.rcode !== 0) fields.push(`rcode = ${m.header.rcode}`);
    return { ...base, kind: 'dns', name: 'DNS Response', fields: fields.join(', '), explanation: words.dnsResponse(addresses, m.header.rcode) };
  }

  // -------------------------------------------------------------------------------
  // TCP

  private tcp(d: DissectedTcp, frame: AddFrame): SessionMessage {
    const from: Endpoint = { transport: 'tcp', address: d.ip.src, port: d.tcp.srcPort };
    const to: Endpoint = { transport: 'tcp', address: d.ip.dst, port: d.tcp.dstPort };
    const fromKey = endpointKey(from);
    const toKey = endpointKey(to);
    const flags = d.tcp.flags;
    const bits = controlBits(flags);
    const { syn, ack, fin, rst } = bits;

    const conn = this.connection(fromKey, toKey, from, to, syn && !ack);
    const a = conn.analysis.analyze(fromKey, toKey, d.tcp, d.payload.length, frame.timestampNs ?? 0n);
    const isRetransmission = a.anomaly === 'retransmission' || a.anomaly === 'spurious-retransmission';
    const fromClient = fromKey === conn.initiator;

    // The name of the segment by its control bits, the seed's way.
    let name = bits.name;
    let fields = `srcport = ${from.port}, dstport = ${to.port}${bits.fields ? `, ${bits.fields}` : ''}`;
    const kind = messageKind(conn.role);
    let explanation = '';
    const step = (title: string) => this.items.push({ type: 'step', title });
    if (conn.pendingStep) {
      step(conn.pendingStep);
      conn.pendingStep = undefined;
    }
    const firstFin = fin && !isRetransmission && conn.fins.length === 0;

    let waiting: WaitingSegment | undefined;
    if (d.payload.length > 0 && conn.role === 'control') {
      // Lines are read in sequence order: a copy sent again is named but not read twice,
      // and a segment ahead of a gap is read (and explained) when the gap fills.
      const reader = conn.readers!.get(fromKey)!;
      const owner: WaitingSegment = { note: '' };
      const got = conn.streams!.get(fromKey)!.accept(a.seq, d.payload, owner);
      let described: { name: string; fields: string; explanation: string };
      if (got.waiting) {
        waiting = owner;
        described = this.describeControl(reader.peek(d.payload), fromClient, true, step);
        described.explanation = words.readWhenGapFills(fromClient);
      } else {
        const parts = [];
        if (got.old.length > 0) parts.push(this.describeControl(reader.peek(got.old), fromClient, true, step));
        if (got.fresh.length > 0) parts.push(this.describeControl(reader.push(got.fresh).lines, fromClient, false, step));
        described = joinDescriptions(parts);
        for (const r of got.released) {
          const late = this.describeControl(reader.push(r.bytes).lines, fromClient, false, step);
          if (r.owner.message) r.owner.message.explanation = [r.owner.note, late.explanation].filter(Boolean).join(' ');
        }
      }
      name = described.name;
      fields = described.fields;
      explanation = described.explanation;
      if (fin) {
        // The last reply and the FIN in one segment (what a server does after 221).
        name += '+FIN';
        fields += ', fin = 1';
        if (firstFin) {
          step(words.STEP_CONTROL_RELEASE);
          explanation = `${explanation} ${fromClient ? words.CONTROL_FIN_BY_CLIENT : words.CONTROL_FIN_BY_SERVER}`.trim();
        }
      }
    } else if (d.payload.length > 0 && conn.role === 'data') {
      const purpose = this.purposeOf(conn);
      if (!conn.dataSeen && !isRetransmission) {
        conn.dataSeen = true;
        step(words.stepDataTransfer(purpose?.verb));
      }
      name = fin ? 'FTP DATA+FIN' : 'FTP DATA';
      explanation = fin ? words.DATA_WITH_FIN : words.dataSegment(purpose, d.payload.length);
      // The release starts with this segment: its heading goes above what follows.
      if (firstFin) conn.pendingStep = words.stepDataRelease(purpose?.verb);
    } else if (d.payload.length > 0) {
      name = fin ? 'TCP DATA+FIN' : 'TCP DATA';
      explanation = words.tcpData(d.payload.length);
    } else {
      explanation = this.describeBareSegment(conn, from, fromKey, to, toKey, { syn, ack, fin, rst }, a, step);
    }
    if (d.payload.length > 0) conn.lastPayload.set(fromKey, { name, end: a.seq + a.length });
    if (fin && !conn.fins.includes(fromKey)) conn.fins.push(fromKey);

    const labels: string[] = [];
    const analysisNote = analysisExplanation(a);
    if (a.anomaly === 'retransmission') labels.push('TCP Retransmission');
    else if (a.anomaly === 'spurious-retransmission') labels.push('TCP Spurious Retransmission');
    else if (a.anomaly === 'out-of-order') labels.push('TCP Out-Of-Order');
    else if (a.anomaly === 'previous-segment-lost') labels.push('TCP Previous segment not captured');
    else if (a.anomaly === 'duplicate-ack') labels.push(`TCP Dup ACK #${a.duplicateCount}`);
    else if (a.anomaly === 'window-update') labels.push('TCP Window Update');
    if (a.ackedUnseen) labels.push('TCP ACKed unseen segment');
    // A duplicate ACK or window update is all its note says; other anomalies keep what the segment carries.
    if (a.anomaly === 'duplicate-ack' || a.anomaly === 'window-update') explanation = analysisNote;
    else if (analysisNote) explanation = explanation ? `${analysisNote} ${explanation}` : analysisNote;
    const message: SessionMessage = {
      frame: this.frames,
      timestampNs: frame.timestampNs ?? 0n,
      from,
      to,
      kind,
      name,
      fields,
      explanation,
      labels,
      layers: d.layers,
      tcp: { seq: a.seq, ack: a.ack, length: d.payload.length, flags: formatTcpFlags(flags), window: d.tcp.window },
    };
    if (waiting) {
      waiting.message = message;
      waiting.note = analysisNote;
    }
    return message;
  }

  /** Find or create the connection of a segment, and decide what it is for. */
  private connection(fromKey: string, toKey: string, from: Endpoint, to: Endpoint, pureSyn: boolean): Connection {
    const key = connectionKey(fromKey, toKey);
    let conn = this.connections.get(key);
    if (conn && pureSyn && conn.fins.length >= 2) conn = undefined; // the 4-tuple is reused by a new connection
    if (conn) return conn;
    conn = {
      key,
      role: 'other',
      initiator: fromKey,
      analysis: new TcpConnectionAnalysis(),
      fins: [],
      synSeen: pureSyn,
      handshakeDone: false,
      dataSeen: false,
      lastPayload: new Map(),
    };
    // The side that owns port 21 is the server, whichever way the first segment went.
    if (to.port === 21 || from.port === 21) {
      conn.role = 'control';
      if (from.port === 21 && to.port !== 21) conn.initiator = toKey;
      const client = conn.initiator === fromKey ? from : to;
      const server = conn.initiator === fromKey ? to : from;
      this.ftpClient ??= client.address;
      this.ftpServer ??= server.address;
      conn.readers = new Map([
        [endpointKey(client), new FtpLineReader('client')],
        [endpointKey(server), new FtpLineReader('server')],
      ]);
      conn.streams = new Map([
        [endpointKey(client), new InOrderStream<WaitingSegment>()],
        [endpointKey(server), new InOrderStream<WaitingSegment>()],
      ]);
      this.control = conn;
      this.openSection('login', words.SECTION_LOGIN);
    } else if (this.expectedData.has(toKey) || this.expectedData.has(fromKey) || from.port === 20 || to.port === 20) {
      conn.role = 'data';
      this.dataEndpoints.add(fromKey).add(toKey);
      this.expectedData.delete(toKey);
      this.expectedData.delete(fromKey);
    }
    this.connections.set(key, conn);
    return conn;
  }

  /** SYN, SYN+ACK, ACK, FIN and RST segments without data. */
  private describeBareSegment(
    conn: Connection,
    from: Endpoint,
    fromKey: string,
    to: Endpoint,
    toKey: string,
    f: { syn: boolean; ack: boolean; fin: boolean; rst: boolean },
    a: SegmentAnalysis,
    step: (title: string) => void,
  ): string {
    const fromClient = fromKey === conn.initiator;
    const who = this.sideName(conn, from, fromKey);
    const control = conn.role === 'control';
    const data = conn.role === 'data';
    const port = to.port;
    if (f.rst) return words.reset(who);
    if (f.syn && !f.ack) {
      if (a.anomaly === 'retransmission') return '';
      conn.synSeen = true;
      if (control) {
        step(words.STEP_CONTROL_SETUP);
        return words.CONTROL_SYN;
      }
      if (data) {
        step(words.stepDataSetup(this.purposeOf(conn)?.verb));
        return words.dataSyn(port);
      }
      return words.genericSyn(port);
    }
    if (f.syn && f.ack) return control ? words.CONTROL_SYNACK : words.synAck(who);
    if (f.fin) {
      const first = conn.fins.length === 0 || (conn.fins.length === 1 && conn.fins[0] === fromKey);
      if (first) {
        if (control) {
          step(words.STEP_CONTROL_RELEASE);
          return fromClient ? words.CONTROL_FIN_BY_CLIENT : words.CONTROL_FIN_BY_SERVER;
        }
        if (data) {
          step(words.stepDataRelease(this.purposeOf(conn)?.verb));
          return words.dataFinFirst(who, this.purposeOf(conn));
        }
        return words.finFirst(who);
      }
      return control ? words.controlFinSecond(who) : words.finSecond(who);
    }
    // A pure ACK: which part of the conversation does it close?
    if (conn.synSeen && !conn.handshakeDone && fromClient && a.seq === 1 && a.ack === 1) {
      conn.handshakeDone = true;
      return control ? words.CONTROL_HANDSHAKE_ACK : words.DATA_HANDSHAKE_ACK;
    }
    const otherKey = toKey;
    if (conn.fins.length === 2 && conn.fins[1] === otherKey && a.ack >= conn.analysis.highestSeq(otherKey)) {
      return control ? words.CONTROL_RELEASED : words.DATA_RELEASED;
    }
    if (conn.fins.length >= 1 && conn.fins[0] === otherKey && a.ack >= conn.analysis.highestSeq(otherKey)) {
      return words.ackOfFin(who);
    }
    const last = conn.lastPayload.get(otherKey);
    if (last && a.ack >= last.end) return words.ackOf(who, last.name, control && last.name === 'FTP 220');
    return words.pureAck(who, a.ack);
  }

  /** "FTP client", "FTP server", "client" or "server": who sent a segment. */
  private sideName(conn: Connection, from: Endpoint, fromKey: string): string {
    if (conn.role !== 'other') {
      if (from.address === this.ftpClient) return 'FTP client';
      if (from.address === this.ftpServer) return 'FTP server';
    }
    return fromKey === conn.initiator ? 'client' : 'server';
  }

  private purposeOf(conn: Connection): Purpose | undefined {
    if (!conn.purpose && this.lastTransfer && !this.portSinceTransfer) conn.purpose = this.lastTransfer;
    return conn.purpose;
  }

  // -------------------------------------------------------------------------------
  // The FTP control connection

  private describeControl(
    lines: FtpLine[],
    fromClient: boolean,
    retransmitted: boolean,
    step: (title: string) => void,
  ): { name: string; fields: string; explanation: string } {
    if (lines.length === 0) return { name: 'FTP', fields: '', explanation: words.partialLine(fromClient) };
    const names: string[] = [];
    const fields: string[] = [];
    const explanations: string[] = [];
    for (const line of lines) {
      if (line.kind === 'command' && fromClient) {
        const { name, explanation } = this.command(line, retransmitted, step);
        names.push(name);
        fields.push(line.arg ? `ftp.request.command = ${line.verb}, ftp.request.arg = ${line.arg}` : `ftp.request.command = ${line.verb}`);
        if (explanation) explanations.push(explanation);
      } else if (line.kind === 'reply') {
        const { explanation } = this.reply(line, retransmitted, step);
        const name = line.code > 0 ? `FTP ${line.code}` : 'FTP';
        if (names[names.length - 1] !== name) names.push(name);
        fields.push(line.continuation || line.code === 0 ? `arg = ${line.text}` : `code = ${line.code}, arg = ${line.text}`);
        if (explanation && !explanations.includes(explanation)) explanations.push(explanation);
      }
    }
    return { name: names.join(' + ') || 'FTP', fields: fields.join('; '), explanation: explanations.join(' ') };
  }

  private command(line: FtpCommandLine, retransmitted: boolean, step: (title: string) => void): { name: string; explanation: string } {
    const verb = line.verb;
    let name = line.arg ? `${verb} ${line.arg}` : verb;
    let hostPort: { address: string; port: number } | null = null;
    if (verb === 'PORT') {
      const p = parsePortArgument(line.arg);
      if (p.ok) hostPort = p.value;
    } else if (verb === 'EPRT') {
      const p = parseEprtArgument(line.arg);
      if (p.ok) hostPort = p.value;
    }
    if (hostPort) name = `${verb} ${hostPort.address} Port ${hostPort.port}`;
    // A retransmitted copy says the same, but changes nothing: it was counted already.
    if (retransmitted) return { name, explanation: words.command(line, { anonymous: isAnonymous(this.user), hostPort }) };

    // Sections follow the commands (the seed's headings).
    if (verb === 'USER' || verb === 'PASS' || verb === 'ACCT') {
      if (this.section?.kind !== 'login') this.openSection('login', words.SECTION_LOGIN);
      if (verb === 'USER') step(words.STEP_ENTER_LOGIN);
      if (verb === 'PASS') step(words.STEP_PASSWORD);
    } else if (PREPARE_VERBS.has(verb)) {
      if (!(this.section?.kind === 'transfer' && !this.section.transferDone)) this.openSection('transfer', words.SECTION_PREPARE);
      if (PORT_VERBS.has(verb)) {
        this.section!.portVerb ??= verb;
        this.portSinceTransfer = true;
      }
    } else if (TRANSFER_VERBS.has(verb)) {
      if (!(this.section?.kind === 'transfer' && !this.section.transferDone)) this.openSection('transfer', '');
      const s = this.section!;
      s.transferVerb = verb;
      s.transferDone = true;
      s.item.title = words.transferSection(verb, s.portVerb);
      this.lastTransfer = { verb, arg: line.arg };
      this.portSinceTransfer = false;
    } else if (verb === 'CWD' || verb === 'CDUP' || verb === 'XCWD') {
      if (this.section?.kind !== 'cwd') this.openSection('cwd', words.SECTION_CWD);
      step(words.STEP_CWD);
    } else if (verb === 'QUIT') {
      this.openSection('logout', words.SECTION_LOGOUT);
      step(words.STEP_QUIT);
    }
    if (hostPort) {
      const address = parseIpv4(hostPort.address);
      if (address !== null) this.expectedData.set(endpointKey({ transport: 'tcp', address, port: hostPort.port }), 'server-connects');
    }
    if (verb === 'USER') this.user = line.arg;
    this.pendingCommands.push(line);
    return { name, explanation: words.command(line, { anonymous: isAnonymous(this.user), hostPort }) };
  }

  private reply(line: FtpReplyLine, retransmitted: boolean, step: (title: string) => void): { explanation: string } {
    const answering = this.pendingCommands[0];
    if (retransmitted) return { explanation: '' };
    if (line.code === 220 && !line.continuation && this.pendingCommands.length === 0) step(words.STEP_LOGIN);
    const completesTransfer = answering && TRANSFER_VERBS.has(answering.verb) && line.final && line.code >= 200;
    if (completesTransfer && !words.isListing(answering.verb)) step(words.STEP_TRANSFER_DONE);
    // PASV/EPSV: the server names the endpoint the client will connect to.
    if (line.code === 227 && line.final) {
      const p = parsePasvReply(line.text);
      const address = p.ok ? parseIpv4(p.value.address) : null;
      if (p.ok && address !== null) this.expectedData.set(endpointKey({ transport: 'tcp', address, port: p.value.port }), 'client-connects');
    } else if (line.code === 229 && line.final && this.ftpServer !== null) {
      const p = parseEpsvReply(line.text);
      if (p.ok) this.expectedData.set(endpointKey({ transport: 'tcp', address: this.ftpServer, port: p.value }), 'client-connects');
    }
    const explanation = words.reply(line, answering, { anonymous: isAnonymous(this.user) });
    if (line.final && line.code >= 200) this.pendingCommands.shift();
    return { explanation };
  }

  private openSection(kind: SectionKind, title: string): void {
    const item = { type: 'section' as const, title };
    this.section = { item, kind };
    this.items.push(item);
  }

  // -------------------------------------------------------------------------------
  // Participants and columns

  private note(e: Endpoint): void {
    const key = endpointKey(e);
    if (this.endpointSeen.has(key)) return;
    this.endpointSeen.add(key);
    this.endpointOrder.push(e);
  }

  /** Many data connections on one host: one column for all of them (see MAX_DATA_COLUMNS). */
  private foldDataColumns(p: Participant): void {
    const data = p.columns.filter((c) => this.dataEndpoints.has(c.key));
    if (data.length <= MAX_DATA_COLUMNS) return;
    const at = p.columns.indexOf(data[0]!);
    const folded: Column = { key: `data:${formatIpv4(p.address)}`, endpoint: data[0]!.endpoint, members: data.map((c) => c.key), label: 'data' };
    p.columns = p.columns.filter((c) => !this.dataEndpoints.has(c.key));
    p.columns.splice(at, 0, folded);
  }

  private participants(): Participant[] {
    const byKey = new Map<string, Participant>();
    const order: Participant[] = [];
    const get = (role: Role, address: Ipv4Address, label: string): Participant => {
      const key = `${role}:${address}`;
      let p = byKey.get(key);
      if (!p) {
        p = { role, label, address, columns: [] };
        byKey.set(key, p);
        order.push(p);
      }
      return p;
    };
    for (const e of this.endpointOrder) {
      let p: Participant;
      if (e.transport === 'udp' && e.port === 53) p = get('dns', e.address, 'DNS');
      else if (this.ftpServer !== null && e.address === this.ftpServer && e.transport === 'tcp') p = get('ftp-server', e.address, 'FTP Server');
      else if (this.ftpClient !== null && e.address === this.ftpClient) p = get('ftp-client', e.address, 'FTP Client');
      else if (this.ftpServer !== null && e.address === this.ftpServer) p = get('ftp-server', e.address, 'FTP Server');
      else p = get('host', e.address, `Host ${formatIpv4(e.address)}`);
      p.columns.push({ key: endpointKey(e), endpoint: e });
    }
    const rank: Record<Role, number> = { 'ftp-client': 0, dns: 1, 'ftp-server': 2, host: 3 };
    for (const p of order) {
      // The server's well-known ports first: 21, then 20 (the seed's "Port 21 20").
      if (p.role === 'ftp-server') p.columns.sort((a, b) => wellKnown(a.endpoint.port) - wellKnown(b.endpoint.port));
      this.foldDataColumns(p);
    }
    return order.sort((a, b) => rank[a.role] - rank[b.role]);
  }
}

/** One key for both directions of a connection, from its two endpoint keys. */
function connectionKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** What a TCP message is, by what its connection is for. */
function messageKind(role: Connection['role']): MessageKind {
  return role === 'control' ? 'ftp-control' : role === 'data' ? 'ftp-data' : 'tcp';
}

/** A segment's control bits, its name by them the seed's way ("TCP SYN+ACK"), and its field list ("syn = 1, ack = 1"). */
function controlBits(flags: number): { syn: boolean; ack: boolean; fin: boolean; rst: boolean; name: string; fields: string } {
  const syn = (flags & TcpFlags.SYN) !== 0;
  const ack = (flags & TcpFlags.ACK) !== 0;
  const fin = (flags & TcpFlags.FIN) !== 0;
  const rst = (flags & TcpFlags.RST) !== 0;
  const name = syn && ack ? 'TCP SYN+ACK' : syn ? 'TCP SYN' : rst ? (ack ? 'TCP RST+ACK' : 'TCP RST') : fin ? (ack ? 'TCP FIN+ACK' : 'TCP FIN') : 'TCP ACK';
  const fields = [syn && 'syn = 1', ack && 'ack = 1', fin && 'fin = 1', rst && 'rst = 1'].filter(Boolean).join(', ');
  return { syn, ack, fin, rst, name, fields };
}

/** One description of a segment that carried an old (already read) part and a new part. */
function joinDescriptions(parts: { name: string; fields: string; explanation: string }[]): { name: string; fields: string; explanation: string } {
  if (parts.length === 1) return parts[0]!;
  const names: string[] = [];
  for (const p of parts) for (const n of p.name.split(' + ')) if (names[names.length - 1] !== n) names.push(n);
  return {
    name: names.join(' + '),
    fields: parts.map((p) => p.fields).filter(Boolean).join('; '),
    explanation: parts.map((p) => p.explanation).filter(Boolean).join(' '),
  };
}

/** Label a message as lost and say where. */
function markLost(m: SessionMessage, direction: PacketDirection): void {
  m.lost = direction;
  m.labels.push(words.LOST_LABEL);
  m.explanation = m.explanation ? `${words.lostExplanation(direction)} ${m.explanation}` : words.lostExplanation(direction);
}

function wellKnown(port: number): number {
  return port === 21 ? 0 : port === 20 ? 1 : 2;
}

function isAnonymous(user: string): boolean {
  return user === 'ftp' || user === 'anonymous';
}

function analysisExplanation(a: SegmentAnalysis): string {
  switch (a.anomaly) {
    case 'retransmission':
      return words.retransmission(a.seq, a.length, { syn: a.syn === true, fin: a.fin === true });
    case 'spurious-retransmission':
      return words.spuriousRetransmission(a.seq, a.length);
    case 'out-of-order':
      return words.outOfOrder(a.seq);
    case 'previous-segment-lost':
      return words.previousLost(a.seq);
    case 'duplicate-ack':
      return a.outstanding ? words.duplicateAck(a.duplicateCount ?? 1, a.ack) : words.repeatedAck(a.duplicateCount ?? 1, a.ack);
    case 'window-update':
      return words.windowUpdate(a.window);
    default:
      return '';
  }
}

/** Build the model of a whole capture. */
export function buildSession(packets: Iterable<AddFrame>): SessionModel {
  const analyzer = new SessionAnalyzer();
  for (const p of packets) analyzer.add(p);
  return analyzer.model();
}

/**
 * A commenter for CaptureLink (src/link/capture.ts): explains each frame, in wire
 * order, as the capture writes it, so `tapstack demo` can put the seed's words into
 * the pcapng packet comments. Frames outside the story (ARP, ICMP...) get a short note.
 * `timestampNs` reads the capture's clock (any origin: only differences matter).
 */
export function createFrameExplainer(timestampNs?: () => bigint): (frame: Uint8Array) => string | undefined {
  const explain = createDissectedExplainer(timestampNs);
  return (frame) => explain(frame, dissect(frame));
}

/** createFrameExplainer for a caller that has dissected each frame already (`d`). */
export function createDissectedExplainer(timestampNs?: () => bigint): (frame: Uint8Array, d: Dissected) => string | undefined {
  const analyzer = new SessionAnalyzer();
  return (frame, d) => {
    // With the capture's clock, the analysis tells late from resent bytes as it will
    // when the written file is read back (the labels in the comments match the diagram's).
    const m = analyzer.addDissected(d, { data: frame, timestampNs: timestampNs?.() });
    if (m) return messageComment(m);
    return d.kind === 'other' ? words.notInSession(d.summary) : d.kind === 'malformed' ? words.malformed(d.layer, d.error) : undefined;
  };
}

/** One line for a pcapng comment: "TCP SYN: FTP client initiates ..." */
export function messageComment(m: SessionMessage): string {
  const head = messageTitle(m);
  return m.explanation ? `${head}: ${m.explanation}` : head;
}
