import { execFileSync } from 'node:child_process';

/**
 * Reads a capture with tshark (the reference dissector) and checks that it holds
 * every step of the seed session (../shared/seeds/) in order. Returns a list of
 * problems; empty means the capture tells the seed's story.
 */

const FIELDS = [
  'frame.number', 'udp.srcport', 'udp.dstport', 'dns.flags.response', 'dns.flags.recdesired', 'dns.qry.name',
  'dns.count.answers', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.len',
  'ftp.request.command', 'ftp.response.code', 'frame.comment', '_ws.malformed', '_ws.expert.severity',
] as const;
type Field = (typeof FIELDS)[number];
export type FrameFields = Record<Field, string>;

/**
 * `tshark -T fields`: one line per frame (that matches the display filter `filter`),
 * the fields' values separated by `separator`.
 */
export function tsharkLines(capture: string, fields: readonly string[], opts: { filter?: string; separator?: string; firstOccurrence?: boolean } = {}): string[] {
  const args = ['-r', capture];
  if (opts.filter) args.push('-Y', opts.filter);
  args.push('-T', 'fields', '-E', `separator=${opts.separator ?? '\t'}`);
  if (opts.firstOccurrence) args.push('-E', 'occurrence=f');
  const out = execFileSync('tshark', [...args, ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.split('\n').filter((line) => line.length > 0);
}

/** The numbers of the frames that match a display filter, e.g. `tcp.analysis.retransmission`. */
export function tsharkFrameNumbers(capture: string, filter: string): number[] {
  return tsharkLines(capture, ['frame.number'], { filter }).map(Number);
}

export function tsharkFrames(capture: string): FrameFields[] {
  return tsharkLines(capture, FIELDS, { firstOccurrence: true }).map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as FrameFields;
  });
}

/**
 * The seed's section headings, in order, as the diagram writes them. `verb` is the
 * command that set up the data connections (PORT in the seed; EPRT, EPSV or PASV for
 * other clients); `getVerb` if the download used another one.
 */
export function seedSections(verb = 'PORT', getVerb = verb): string[] {
  return [
    'DNS Query to obtain the IP address for the FTP Server',
    'FTP Telnet connection setup and login. (USER and PASS commands)',
    `Obtaining a directory listing (${verb} and LIST command)`,
    'Changing directory (CWD command)',
    `Downloading a file using FTP get (${getVerb} and RETR command)`,
    'Logging out',
  ];
}

interface Step {
  what: string;
  match: (f: FrameFields) => boolean;
  /** The step may be carried by the same segment as the step before (a FIN riding on data or a reply). */
  sameFrameOk?: boolean;
}

const isSet = (v: string): boolean => v === '1' || v === 'True' || v === 'true';
const tcp = (f: FrameFields, src: (p: number) => boolean, dst: (p: number) => boolean): boolean =>
  f['tcp.srcport'] !== '' && src(Number(f['tcp.srcport'])) && dst(Number(f['tcp.dstport']));
const is = (port: number) => (p: number) => p === port;
const ephemeral = (p: number): boolean => p >= 1024 && p !== 5001 && p !== 5002;
const command = (verb: string) => (f: FrameFields) => f['ftp.request.command'] === verb;
const reply = (code: number) => (f: FrameFields) => f['ftp.response.code'] === String(code);

/** The seed session, as the frames that must appear, in this order. */
export const SEED_STEPS: Step[] = [
  { what: 'DNS query for ftp.any-domain.com, A, RD=1', match: (f) => f['udp.dstport'] === '53' && !isSet(f['dns.flags.response']) && isSet(f['dns.flags.recdesired']) && f['dns.qry.name'] === 'ftp.any-domain.com' },
  { what: 'DNS response with one answer', match: (f) => f['udp.srcport'] === '53' && isSet(f['dns.flags.response']) && f['dns.count.answers'] === '1' },
  { what: 'SYN from an ephemeral port to 21', match: (f) => tcp(f, ephemeral, is(21)) && isSet(f['tcp.flags.syn']) && !isSet(f['tcp.flags.ack']) },
  { what: 'SYN+ACK from 21', match: (f) => tcp(f, is(21), ephemeral) && isSet(f['tcp.flags.syn']) && isSet(f['tcp.flags.ack']) },
  { what: 'FTP 220', match: reply(220) },
  { what: 'USER', match: command('USER') },
  { what: 'FTP 331', match: reply(331) },
  { what: 'PASS', match: command('PASS') },
  { what: 'FTP 230', match: reply(230) },
  { what: 'PORT (for 5001)', match: command('PORT') },
  { what: 'FTP 200', match: reply(200) },
  { what: 'LIST', match: command('LIST') },
  { what: 'FTP 150', match: reply(150) },
  { what: 'SYN from port 20 to 5001', match: (f) => tcp(f, is(20), is(5001)) && isSet(f['tcp.flags.syn']) && !isSet(f['tcp.flags.ack']) },
  { what: 'SYN+ACK from 5001 to 20', match: (f) => tcp(f, is(5001), is(20)) && isSet(f['tcp.flags.syn']) && isSet(f['tcp.flags.ack']) },
  { what: "the server's FIN on the listing connection (20 -> 5001)", match: (f) => tcp(f, is(20), is(5001)) && isSet(f['tcp.flags.fin']) },
  { what: "then the client's FIN (5001 -> 20)", match: (f) => tcp(f, is(5001), is(20)) && isSet(f['tcp.flags.fin']) },
  { what: 'FTP 226 for the listing', match: reply(226) },
  { what: 'CWD', match: command('CWD') },
  { what: 'FTP 250', match: reply(250) },
  { what: 'PORT (for 5002)', match: command('PORT') },
  { what: 'RETR', match: command('RETR') },
  { what: 'FTP 150 for RETR', match: reply(150) },
  { what: 'SYN from port 20 to 5002', match: (f) => tcp(f, is(20), is(5002)) && isSet(f['tcp.flags.syn']) && !isSet(f['tcp.flags.ack']) },
  { what: 'a RETR data segment carrying both payload and FIN (20 -> 5002)', match: (f) => tcp(f, is(20), is(5002)) && Number(f['tcp.len']) > 0 && isSet(f['tcp.flags.fin']) },
  { what: "then the client's FIN (5002 -> 20)", match: (f) => tcp(f, is(5002), is(20)) && isSet(f['tcp.flags.fin']) },
  { what: 'FTP 226 for RETR', match: reply(226) },
  { what: 'QUIT', match: command('QUIT') },
  { what: 'FTP 221', match: reply(221) },
  { what: "the server's FIN on the control connection (from 21)", match: (f) => tcp(f, is(21), ephemeral) && isSet(f['tcp.flags.fin']), sameFrameOk: true },
  { what: "then the client's FIN (to 21)", match: (f) => tcp(f, ephemeral, is(21)) && isSet(f['tcp.flags.fin']) },
];

export function checkSeedCapture(capture: string): { frames: FrameFields[]; problems: string[] } {
  const frames = tsharkFrames(capture);
  const problems: string[] = [];
  let at = 0;
  for (const step of SEED_STEPS) {
    const from = step.sameFrameOk ? Math.max(0, at - 1) : at;
    const i = frames.findIndex((f, k) => k >= from && step.match(f));
    if (i < 0) {
      problems.push(`missing (after frame ${frames[at - 1]?.['frame.number'] ?? 0}): ${step.what}`);
      continue;
    }
    at = i + 1;
  }
  for (const f of frames) {
    if (f['_ws.malformed'] !== '') problems.push(`frame ${f['frame.number']} is malformed`);
    if (f['frame.comment'] === '') problems.push(`frame ${f['frame.number']} has no comment`);
  }
  return { frames, problems };
}

/** tshark's expert summary: bad checksums and malformed packets are errors there. */
export function expertErrors(capture: string): string[] {
  const out = execFileSync('tshark', ['-r', capture, '-q', '-z', 'expert,error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => /^\s+\d+\s+\S+\s+\S+/.test(l));
}

/**
 * What a capture says, frame by frame, without what time decides: every DNS message,
 * every SYN, FIN and RST, and every segment that carries data, with addresses, ports,
 * flags, lengths and relative sequence numbers (tshark's default, so the clock part of
 * RFC 6528 ISNs drops out). Pure ACKs and window updates are left out, and so is the
 * acknowledgment field: when a delayed ACK fires, and which data an ACK covers, depends
 * on real time. Two runs of the same seeded session over different links must give the
 * same lines.
 */
export function trafficShape(capture: string): string[] {
  const fields = ['ip.src', 'ip.dst', 'ip.proto', 'udp.srcport', 'udp.dstport', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.fin', 'tcp.flags.reset', 'tcp.len', 'tcp.seq', 'dns.id', 'ftp.request.command', 'ftp.response.code'];
  const filter = 'ip && !(tcp && tcp.len == 0 && tcp.flags.syn == 0 && tcp.flags.fin == 0 && tcp.flags.reset == 0)';
  return tsharkLines(capture, fields, { filter, separator: ',' });
}
