/**
 * Transfer parameters (RFC 959 4.1.2, RFC 2428, RFC 2577, RFC 2389/3659 OPTS): how
 * the next data connection is made, the representation type, the restart offset and
 * the MLST facts. PORT/EPRT/PASV/EPSV, TYPE, STRU, MODE, REST and OPTS set them; the
 * transfer commands use them.
 */
import { formatEpsvReply, formatPasvReply, parseEprtArgument, parseEpsvArgument, parsePortArgument } from '../common/hostport.js';
import { MLST_FACTS, parseMlstOpts, type MlstFact } from '../common/listing.js';
import { ActiveEndpoint, PassiveEndpoint, type DataEndpoint } from './data.js';
import type { ResolvedServerOptions } from './options.js';

/** What the parameter commands need of the session. */
export interface ParamsSession {
  readonly options: ResolvedServerOptions;
  /** The client's address (control connection). */
  readonly peer: string;
  /** Our address on the control connection, for the 227 reply. */
  readonly localAddress: string;
  readonly closed: boolean;
  reply(code: number, text: string | readonly string[]): void;
}

export class TransferParameters {
  /** A (ASCII, the RFC 959 default) or I (image). */
  type: 'A' | 'I' = 'A';
  /** How the next data connection is made; used once. */
  private data: DataEndpoint | undefined;
  /** RFC 2428 4: after EPSV ALL only EPSV may set up data connections. */
  private epsvAll = false;
  /** Restart offset from REST, used by the next RETR/STOR/APPE. */
  private rest = 0;
  mlstFacts: MlstFact[] = [...MLST_FACTS];

  constructor(private readonly s: ParamsSession) {}

  get modeName(): string {
    return this.type === 'A' ? 'ASCII' : 'BINARY';
  }

  /** For STAT: 'active', 'passive' or 'none'. */
  get dataMode(): string {
    return this.data ? this.data.mode : 'none';
  }

  /** The data endpoint for this transfer (then it is gone); undefined after 425 was sent. */
  takeData(): DataEndpoint | undefined {
    const d = this.data;
    this.data = undefined;
    if (!d) this.s.reply(425, 'Use PORT, PASV, EPRT or EPSV first.');
    return d;
  }

  get hasData(): boolean {
    return this.data !== undefined;
  }

  /** The REST offset for this command (then it is back to 0). */
  takeRest(): number {
    const r = this.rest;
    this.rest = 0;
    return r;
  }

  /** Back to the defaults (REIN, USER). */
  reset(): void {
    this.setData(undefined);
    this.type = 'A';
    this.epsvAll = false;
    this.rest = 0;
    this.mlstFacts = [...MLST_FACTS];
  }

  /** Close a pending data endpoint (session closing). */
  close(): void {
    this.setData(undefined);
  }

  private setData(endpoint: DataEndpoint | undefined): void {
    this.data?.close();
    this.data = endpoint;
  }

  private reply(code: number, text: string): void {
    this.s.reply(code, text);
  }

  port(arg: string, verb: 'PORT' | 'EPRT'): void {
    const o = this.s.options;
    if (this.epsvAll) {
      // RFC 2428 4: after EPSV ALL every other data connection command is refused.
      return this.reply(503, 'EPSV ALL in effect; use EPSV.');
    }
    let host: string;
    let port: number;
    if (verb === 'PORT') {
      const p = parsePortArgument(arg);
      if (!p.ok) return this.reply(501, 'Syntax error in PORT argument.');
      ({ address: host, port } = p.value);
    } else {
      const p = parseEprtArgument(arg);
      if (!p.ok) {
        if ('unsupportedProtocol' in p) return this.reply(522, 'Network protocol not supported, use (1)');
        return this.reply(501, 'Syntax error in EPRT argument.');
      }
      ({ address: host, port } = p.value);
    }
    // RFC 2577 3: no connections to other hosts (FTP bounce) or to privileged ports.
    if (host !== this.s.peer && !o.allowForeignDataAddress) {
      o.counters.inc('ftp.server.bounce_refused.address');
      return this.reply(504, `${verb} to another host than the client's refused.`);
    }
    if (port < 1024 && !o.allowLowDataPort) {
      o.counters.inc('ftp.server.bounce_refused.port');
      return this.reply(504, `${verb} to a port below 1024 refused.`);
    }
    this.setData(new ActiveEndpoint(o.tcp, o.clock, host, port, o.dataPort));
    this.reply(200, `${verb} command successful.`);
  }

  async passive(verb: 'PASV' | 'EPSV', arg: string): Promise<void> {
    if (verb === 'PASV' && this.epsvAll) return this.reply(503, 'EPSV ALL in effect; use EPSV.');
    if (verb === 'EPSV') {
      const p = parseEpsvArgument(arg);
      if (!p.ok) return this.reply(501, 'Syntax error in EPSV argument.');
      if (p.value.all) {
        this.epsvAll = true;
        return this.reply(200, 'EPSV ALL ok.');
      }
      if (p.value.protocol !== undefined && p.value.protocol !== 1) return this.reply(522, 'Network protocol not supported, use (1)');
    }
    this.setData(undefined);
    const o = this.s.options;
    const endpoint = await PassiveEndpoint.create(o.tcp, o.pasvPorts, this.s.peer, o.random, o.clock, o.counters);
    if (!endpoint) return this.reply(425, 'Cannot open passive connection: no free port.');
    if (this.s.closed) return endpoint.close();
    this.data = endpoint;
    if (verb === 'PASV') this.reply(227, formatPasvReply({ address: this.s.localAddress, port: endpoint.port }));
    else this.reply(229, formatEpsvReply(endpoint.port));
  }

  setType(arg: string): void {
    const words = arg.trim().toUpperCase().split(/\s+/);
    const [code, param] = words;
    if (words.length > 2) return this.reply(501, 'Syntax error in TYPE argument.');
    if (code === 'A' && (param === undefined || param === 'N')) {
      this.type = 'A';
      return this.reply(200, 'Type set to A.');
    }
    if ((code === 'I' && param === undefined) || (code === 'L' && param === '8')) {
      this.type = 'I';
      return this.reply(200, 'Type set to I.');
    }
    // Known but unsupported: EBCDIC, Telnet/ASA format control, other byte sizes.
    if (code === 'E' || ((code === 'A' || code === 'E') && (param === 'T' || param === 'C')) || (code === 'L' && /^\d+$/.test(param ?? ''))) {
      return this.reply(504, 'Type not supported; use A or I.');
    }
    this.reply(501, 'Syntax error in TYPE argument.');
  }

  /** STRU F and MODE S are all we offer; the other RFC 959 values are 504. */
  setOnly(arg: string, only: 'F' | 'S', ok: string, unsupported: string): void {
    const v = arg.trim().toUpperCase();
    if (v === only) return this.reply(200, ok);
    if (/^[A-Z]$/.test(v) && ((only === 'F' && 'RP'.includes(v)) || (only === 'S' && 'BC'.includes(v)))) return this.reply(504, unsupported);
    this.reply(501, 'Syntax error in parameters or arguments.');
  }

  restart(arg: string): void {
    const v = arg.trim();
    if (!/^\d{1,15}$/.test(v)) return this.reply(501, 'REST needs a byte offset.');
    this.rest = Number(v);
    this.reply(350, `Restarting at ${this.rest}. Send STORE or RETRIEVE to initiate transfer.`);
  }

  options(arg: string): void {
    const [name = '', ...rest] = arg.trim().split(/\s+/);
    const value = rest.join(' ');
    switch (name.toUpperCase()) {
      case 'UTF8':
      case 'UTF-8':
        // RFC 2640: path names are UTF-8 all the time here.
        if (value.toUpperCase() === 'ON' || value === '') return this.reply(200, 'Always in UTF8 mode.');
        return this.reply(504, 'UTF8 cannot be turned off.');
      case 'MLST':
        this.mlstFacts = parseMlstOpts(value);
        return this.reply(200, `MLST OPTS ${this.mlstFacts.map((f) => `${f};`).join('')}`);
      default:
        return this.reply(501, 'Option not understood.');
    }
  }
}
