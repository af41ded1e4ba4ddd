import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The directory the seed session changes into, and the file it downloads. */
export const DEMO_DIRECTORY = 'pub';
export const DEMO_FILE = 'readme.txt';
/** The seed's 150 reply names this size: "readme.txt(1715 bytes)". */
export const DEMO_FILE_SIZE = 1715;

const README_TEXT = `tapstack demo: readme.txt

This file crossed a userspace TCP/IP stack written in TypeScript. The FTP
server that sent it, and the FTP client that asked for it, never touched the
kernel's sockets: every Ethernet frame went through our own ARP, IPv4, UDP,
DNS and TCP code, and the session you are reading about is the one in the
EventHelix sequence diagram that tapstack reproduces segment for segment.

What happened before this file arrived:
  1. The client asked DNS for ftp.any-domain.com (type A, recursion desired).
  2. It opened the control connection to port 21: SYN, SYN+ACK, ACK.
  3. It logged in as "ftp" with an e-mail address as the password.
  4. "dir": PORT told the server to connect back to port 5001; the server
     opened that data connection from its port 20, sent the listing and
     closed the connection first.
  5. "cd pub": CWD, 250.
  6. "get readme.txt": PORT for 5002, RETR, and the server's port 20 opened
     a second data connection. The last data segment carries the FIN.

Open session.pcapng in Wireshark: every frame has a packet comment that
explains it, and Statistics > Flow Graph draws the same picture as
session.txt.
`;

/**
 * Text of exactly `size` bytes: the explanation above, then filler lines that
 * count, so the file reads sensibly and still has the size the seed names.
 */
export function readmeContents(size = DEMO_FILE_SIZE): Buffer {
  let text = README_TEXT;
  let n = 1;
  while (Buffer.byteLength(text) < size) text += `filler line ${n++} to bring the file to ${size} bytes\n`;
  const bytes = Buffer.from(text).subarray(0, size);
  bytes[size - 1] = 0x0a; // end on a newline even where the cut fell
  return bytes;
}

/**
 * The files' modification time: fixed, so the listing (and with it the capture and
 * the diagram) is the same on every run; far enough back that `ls -l` style listings
 * show the year rather than a time of day, whatever today is.
 */
const SERVED_MTIME = new Date(Date.UTC(2000, 0, 1));

/**
 * (Re)create the served root: a welcome file at the top, the directory the
 * session changes into, and readme.txt inside it.
 */
export async function createServedTree(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  await mkdir(path.join(root, DEMO_DIRECTORY), { recursive: true });
  await writeFile(path.join(root, 'welcome.msg'), 'Welcome to ftp.any-domain.com, served by tapstack.\n');
  await writeFile(path.join(root, DEMO_DIRECTORY, DEMO_FILE), readmeContents());
  for (const p of ['welcome.msg', DEMO_DIRECTORY, path.join(DEMO_DIRECTORY, DEMO_FILE)]) await utimes(path.join(root, p), SERVED_MTIME, SERVED_MTIME);
}
