/**
 * The words of the diagram: section headings, step headings and the explanation of
 * each message, written after the seed (../shared/seeds/) wherever the seed has
 * words for a situation, and in the same plain style where it has none. Kept apart
 * from the analyzer so a teacher can reword them without touching any logic.
 */
import type { FtpCommandLine, FtpReplyLine } from './ftp-lines.js';

type Purpose = { verb: string; arg: string } | undefined;

const LISTING_VERBS = new Set(['LIST', 'NLST', 'MLSD']);
/** LIST, NLST and MLSD: transfers of a directory listing rather than a file. */
export const isListing = (verb: string | undefined) => verb !== undefined && LISTING_VERBS.has(verb);
const isUpload = (verb: string | undefined) => verb === 'STOR' || verb === 'STOU' || verb === 'APPE';
const The = (who: string) => `The ${who}`;

// Sections (the seed's list of steps) -------------------------------------------------

export const SECTION_DNS = 'DNS Query to obtain the IP address for the FTP Server';
// The seed writes this heading with a full stop after "login"; kept verbatim.
export const SECTION_LOGIN = 'FTP Telnet connection setup and login. (USER and PASS commands)';
export const SECTION_PREPARE = 'Preparing a data transfer';
export const SECTION_CWD = 'Changing directory (CWD command)';
export const SECTION_LOGOUT = 'Logging out';

export function transferSection(verb: string, portVerb: string | undefined): string {
  const how = portVerb ? `${portVerb} and ${verb} command` : `${verb} command`;
  if (isListing(verb)) return `Obtaining a directory listing (${how})`;
  if (isUpload(verb)) return `Uploading a file using FTP put (${how})`;
  return `Downloading a file using FTP get (${how})`;
}

// Steps (the seed's smaller headings) -------------------------------------------------

export const STEP_CONTROL_SETUP = 'TCP connection establishment over the control port';
export const STEP_LOGIN = 'Logging in';
export const STEP_ENTER_LOGIN = 'Enter login information';
export const STEP_PASSWORD = 'Display password prompt and complete login';
export const STEP_CWD = 'Change working directory (cwd)';
export const STEP_TRANSFER_DONE = 'Signal completion of the FTP over the control port';
export const STEP_QUIT = 'Quitting the FTP client';
export const STEP_CONTROL_RELEASE = 'Releasing the control TCP connection';

export function stepDataSetup(verb: string | undefined): string {
  return isListing(verb) ? 'Establish data port connection to transfer directory listing' : 'Setting up the data TCP connection (3 way handshake)';
}

export function stepDataTransfer(verb: string | undefined): string {
  return isListing(verb) ? 'Display directory listing' : 'Transfering the file over the data TCP connection';
}

export function stepDataRelease(verb: string | undefined): string {
  return isListing(verb) ? 'Release the data port TCP connection on completion of the directory listing' : 'Releasing the data TCP connection';
}

// DNS ---------------------------------------------------------------------------------

export function dnsQuery(name: string): string {
  return `The FTP client sends a DNS query for domain name ${name}`;
}

export function dnsResponse(addresses: string[], rcode: number): string {
  if (rcode !== 0) return `The DNS answers with an error (rcode ${rcode}): the name could not be resolved.`;
  if (addresses.length === 0) return 'The DNS responds, but without an IPv4 address.';
  return 'The DNS responds back with the IP address.';
}

export function udpDatagram(length: number): string {
  return `A UDP datagram with ${length} bytes of data.`;
}

// TCP connection setup and release ----------------------------------------------------

export const CONTROL_SYN = 'FTP client initiates establishment of the telnet session TCP connection by sending a SYN to TCP port 21';
export const CONTROL_SYNACK = 'The FTP server responds with SYN+ACK';
export const CONTROL_HANDSHAKE_ACK = 'The client machine responds with an ACK, this completes the TCP three way handshake.';
export const DATA_HANDSHAKE_ACK = 'This ACK completes the TCP three way handshake of the data connection.';
export const CONTROL_FIN_BY_SERVER = 'Control TCP connection release initiated.';
export const CONTROL_FIN_BY_CLIENT = 'FTP client initiates the release of the control TCP connection.';
export const CONTROL_RELEASED = 'Control TCP connection release is completed.';

export function dataSyn(port: number): string {
  return `TCP three way handshake for connection establishment on port ${port}.`;
}

export function genericSyn(port: number): string {
  return `The client opens a TCP connection to port ${port} (three way handshake).`;
}

export function synAck(who: string): string {
  return `${The(who)} accepts the connection with SYN+ACK.`;
}

export function dataFinFirst(who: string, purpose: Purpose): string {
  const what = purpose === undefined ? 'the data' : isListing(purpose.verb) ? 'the directory listing' : purpose.arg || 'the file';
  return `${who.replace(/^./, (c) => c.toUpperCase())} initiates the release of the TCP connection used to transport ${what}.`;
}

export function finFirst(who: string): string {
  return `${The(who)} initiates the release of the TCP connection (FIN).`;
}

export function finSecond(who: string): string {
  return `${who.replace(/^./, (c) => c.toUpperCase())} also initiates the release of the TCP connection.`;
}

export function controlFinSecond(who: string): string {
  return `${The(who)} closes its side of the control TCP connection too.`;
}

export function ackOfFin(who: string): string {
  return `${The(who)} acknowledges the FIN.`;
}

export const DATA_RELEASED = 'This ACK completes the release of the data TCP connection.';

export function reset(who: string): string {
  return `${The(who)} resets the connection (RST): it ends at once, without the FIN exchange.`;
}

export function ackOf(who: string, name: string, seedWords: boolean): string {
  if (seedWords) return `The client machine acknowledges the ${name} TCP packet.`;
  return `${The(who)} acknowledges the ${name} segment.`;
}

export function pureAck(who: string, ack: number): string {
  return `${The(who)} acknowledges everything up to byte ${ack}.`;
}

// Data --------------------------------------------------------------------------------

export const DATA_WITH_FIN =
  'This is the last TCP segment containing data, it also includes the FIN to initiate the release of the TCP connection.';

export function dataSegment(purpose: Purpose, length: number): string {
  if (purpose === undefined) return `TCP segment carrying ${length} bytes over the data connection.`;
  if (isListing(purpose.verb)) return 'TCP segment carrying the directory listing.';
  return `TCP segments carrying contents of ${purpose.arg || 'the file'}.`;
}

export function tcpData(length: number): string {
  return `A TCP segment carrying ${length} bytes of data.`;
}

export function readWhenGapFills(fromClient: boolean): string {
  return `These ${fromClient ? 'command' : 'reply'} bytes arrived before earlier bytes of the control connection; the ${fromClient ? 'server' : 'client'} reads them in order, once the gap is filled.`;
}

export function partialLine(fromClient: boolean): string {
  return fromClient ? 'Part of a command line; the rest follows in the next segment.' : 'Part of a reply line; the rest follows in the next segment.';
}

// FTP commands (RFC 959 4.1, RFC 2428, RFC 3659) -----------------------------------------

export function command(line: FtpCommandLine, ctx: { anonymous: boolean; hostPort: { address: string; port: number } | null }): string {
  const arg = line.arg;
  switch (line.verb) {
    case 'USER':
      return ctx.anonymous
        ? `User's login name is transported in a TCP segment. In this example an anonymous FTP is being initiated with the user name "${arg}"`
        : "User's login name is transported in a TCP segment.";
    case 'PASS':
      return ctx.anonymous
        ? 'User enters his or her e-mail address as the password. This password is being transported by this TCP segment.'
        : 'The password is transported by this TCP segment, in clear text.';
    case 'PORT':
    case 'EPRT': {
      const where = ctx.hostPort ? ` The server will open the data connection to ${ctx.hostPort.address} port ${ctx.hostPort.port}.` : '';
      return `FTP client provides port number information.${where}`;
    }
    case 'PASV':
    case 'EPSV':
      return 'FTP client asks the server to open a port for the data connection (passive mode).';
    case 'LIST':
    case 'NLST':
    case 'MLSD':
      return 'User requests a directory listing.';
    case 'CWD':
    case 'XCWD':
      return 'User issues the change working directory command.';
    case 'CDUP':
      return 'User changes to the parent directory.';
    case 'RETR':
      return `The user issues an FTP get for ${arg}.`;
    case 'STOR':
    case 'APPE':
    case 'STOU':
      return `The user issues an FTP put for ${arg}.`;
    case 'QUIT':
      return 'User initiates a "bye" on the FTP client console. This is translated to the quit command.';
    case 'TYPE':
      return arg.toUpperCase().startsWith('I') ? 'The client switches to binary (image) transfers.' : 'The client switches to ASCII transfers.';
    case 'SYST':
      return 'The client asks which operating system the server runs.';
    case 'FEAT':
      return 'The client asks which extensions the server supports (RFC 2389).';
    case 'SIZE':
      return `The client asks for the size of ${arg} (RFC 3659).`;
    case 'MDTM':
      return `The client asks when ${arg} was last modified (RFC 3659).`;
    case 'PWD':
    case 'XPWD':
      return 'The client asks for the current directory.';
    case 'NOOP':
      return 'The client checks that the control connection is alive.';
    default:
      return `The client sends the ${line.verb} command.`;
  }
}

// FTP replies (RFC 959 4.2) --------------------------------------------------------------

export function reply(line: FtpReplyLine, answering: FtpCommandLine | undefined, ctx: { anonymous: boolean }): string {
  if (line.continuation) return 'More lines of the multi-line reply.';
  const verb = answering?.verb;
  const code = line.code;
  if (code >= 400) return `FTP server refuses ${verb ? `the ${verb} command` : 'the request'} (${code >= 500 ? 'permanent' : 'transient'} error ${code}).`;
  switch (code) {
    case 220:
      return 'The FTP server then sends a 220 response to indicate that the FTP server is ready to accept a login.';
    case 331:
      return ctx.anonymous ? 'FTP server indicates that anonymous FTP is allowed.' : 'FTP server asks for the password.';
    case 230:
      return line.opensMultiline ? 'Welcome message after login.' : 'User login notification.';
    case 200:
      return verb === 'PORT' || verb === 'EPRT' ? `FTP server positively acknowledges the ${verb} command.` : `FTP server accepts the ${verb ?? ''} command.`.replace('  ', ' ');
    case 150:
    case 125:
      return isListing(verb)
        ? 'FTP server notifies the client that it is about to transfer the requested listing.'
        : `FTP server acknowledges the ${verb ?? 'transfer'} command from the client.`;
    case 226:
    case 250:
      if (isListing(verb)) return 'The directory listing completion is signaled by this TCP segment.';
      if (verb === 'RETR' || isUpload(verb)) return 'Signal to the client that the FTP transfer has been completed.';
      if (verb === 'CWD' || verb === 'XCWD' || verb === 'CDUP') return 'FTP server positively acknowledges the Change Working Directory command.';
      return 'FTP server reports success.';
    case 221:
      return 'FTP server says goodbye; it will close the control connection.';
    case 227:
    case 229:
      return 'FTP server tells the client where to connect for the data connection (passive mode).';
    case 215:
      return 'FTP server names its operating system type.';
    case 211:
      return verb === 'FEAT' ? 'FTP server lists the extensions it supports.' : 'FTP server reports its status.';
    case 213:
      return verb === 'SIZE' ? 'FTP server gives the size of the file in bytes.' : verb === 'MDTM' ? "FTP server gives the file's modification time." : 'FTP server reports the file status.';
    case 257:
      return 'FTP server names the current directory.';
    default:
      return code >= 100 && code < 200 ? 'FTP server reports progress.' : code < 400 ? 'FTP server answers the command.' : '';
  }
}

// TCP analysis ------------------------------------------------------------------------

export function retransmission(seq: number, length: number, f: { syn: boolean; fin: boolean }): string {
  const why = "the first copy or its ACK was lost, so the sender's retransmission timer (RFC 6298) or duplicate ACKs (RFC 5681) made it send";
  if (f.syn) return `Retransmission: this SYN was sent before and no answer came back in time; the sender's timer (RFC 6298 2.1 and 5.5: 1 second, doubling) made it try again.`;
  const data = f.fin ? length - 1 : length;
  if (data <= 0) return `Retransmission: this FIN was sent before; ${why} it again.`;
  return `Retransmission: sequence numbers ${seq} to ${seq + data - 1} were already sent once; ${why} them again.`;
}

export function spuriousRetransmission(seq: number, length: number): string {
  return `Spurious retransmission: sequence numbers ${seq} to ${seq + length - 1} were sent again although the receiver had already acknowledged them; the sender's timer fired before that ACK reached it (or the ACK was lost), so this copy was not needed.`;
}

export function outOfOrder(seq: number): string {
  return `Out of order: the bytes from ${seq} arrive after bytes that follow them; the network reordered the segments, and the receiver keeps the later ones until this gap is filled (RFC 9293 3.10.7.4).`;
}

export function previousLost(seq: number): string {
  return `A gap before byte ${seq}: an earlier segment was lost before the capture point (or not captured).`;
}

export function windowUpdate(window: number): string {
  return `Window update: the same ACK again, sent only to announce a new receive window (field value ${window}) so the sender may send more (RFC 9293 3.8.6).`;
}

export function repeatedAck(n: number, ack: number): string {
  return `Duplicate ACK #${n}: the receiver got bytes it already had (a copy sent again) and repeats its ACK for byte ${ack}, telling the sender that nothing new arrived (RFC 9293 3.10.7.4).`;
}

export function duplicateAck(n: number, ack: number): string {
  return `Duplicate ACK #${n}: the receiver again asks for byte ${ack} because a later segment arrived while that one is missing; the third duplicate makes the sender retransmit at once (fast retransmit, RFC 5681 3.2).`;
}

// Frames outside the session ---------------------------------------------------------

export function notInSession(summary: string): string {
  if (summary === 'ARP') return 'ARP: a host asks for (or announces) the Ethernet address that belongs to an IPv4 address (RFC 826).';
  if (summary === 'ICMP') return 'ICMP: a control message of the IP layer (RFC 792).';
  if (summary === 'IPv6') return 'IPv6: not part of this IPv4 session.';
  if (summary === 'IPv4 fragment') return 'IPv4 fragment: one piece of a datagram too big for the link; the receiver reassembles the pieces (RFC 791).';
  return `${summary}: not part of the FTP session.`;
}

export function malformed(layer: string, error: string): string {
  return `Malformed ${layer} (${error}): a receiver counts and drops it.`;
}

// Frames a fault injector dropped (tapstack demo --loss) --------------------------------

/** The label of a message that never arrived. */
export const LOST_LABEL = 'Lost';

/** Where the frame was dropped, seen from the capture point on the client's link. */
export function lostWhere(direction: 'inbound' | 'outbound'): string {
  return direction === 'outbound'
    ? "dropped on the wire by the fault injector after the client sent it (the capture saw it leave; the server never received it)"
    : "dropped on the wire by the fault injector before it reached the client (the client never received it, so Wireshark's analysis does not see it)";
}

export function lostExplanation(direction: 'inbound' | 'outbound'): string {
  return `This frame was lost: ${lostWhere(direction)}. TCP will notice the gap and send it again.`;
}
