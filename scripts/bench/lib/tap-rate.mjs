// The raw TAP frame rate, as a ceiling for the stack's throughput: how fast full-size
// (1514-byte) frames move between the kernel and JavaScript through our binding
// (TapLink from dist/), with no stack at all. Same approach as tap-frames.bench.mjs's
// "drain" (queue N frames while nobody reads, then read them all) plus the other
// direction (write N frames into the device as fast as the binding takes them).
//
// The link is opened as the stack opens it (TapLink's defaults, through BenchNet.tap):
// checksum offload on, so reading includes the binding's C verification of each
// frame's IPv4 and UDP checksums (the verdicts the stack gets), and writing goes
// through the binding's writer thread (send copies into its ring, the thread does
// the write() syscalls). The write rate counts only frames the kernel took
// (stats.txFrames once the ring is flushed), not frames handed to the binding: a
// frame the full ring dropped is reported as dropped, not as sent. (Before the writer
// thread, write() ran on the JS thread and this loop ignored drops; now it offers
// what the ring refused again after a millisecond, so it measures how fast the kernel
// takes frames rather than how fast a full ring refuses them.)

import { ip } from './netns.mjs';
import { startMeter } from './measure.mjs';

export const FRAME_BYTES = 1514;
/** The MAC our side claims; the kernel gets a static neighbour entry for 10.0.0.2 with it. */
export const OUR_MAC = '02:00:00:00:00:02';

/**
 * A python3 program for the kernel side: 1472-byte UDP datagrams (1514-byte frames)
 * to 10.0.0.2 port 9, `count` of them, or forever when `count` is 0 (a full queue's
 * ENOBUFS is ignored, the flood goes on).
 */
export function udpSender(count) {
  return (
    'import socket\n' +
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
    's.connect(("10.0.0.2", 9))\n' +
    'send, data = s.send, b"x" * 1472\n' +
    (count > 0
      ? `for _ in range(${count}): send(data)\n`
      : 'while True:\n' +
        '    try:\n' +
        '        for _ in range(100000): send(data)\n' +
        '    except OSError:\n' +
        '        pass\n')
  );
}

/**
 * kernel -> JS: queue `frames` UDP datagrams of 1472 bytes (1514-byte frames) on a
 * fresh TAP in `ns`, then read them all. Returns frames/s and this process's CPU.
 */
export async function measureTapRead(net, ns, frames) {
  const link = await net.tap(ns, '10.0.0.1/24', { txqueuelen: frames + 1000 });
  try {
    ip(['-n', ns, 'neigh', 'replace', '10.0.0.2', 'lladdr', OUR_MAC, 'dev', link.name, 'nud', 'permanent']);
    const fill = await net.exec(ns, 'python3', ['-c', udpSender(frames)]);
    if (fill.code !== 0) throw new Error(`filling the TAP queue failed: ${fill.stderr}`);
    let seen = 0;
    const stop = startMeter();
    const m = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen} of ${frames} frames arrived`)), 60_000);
      link.onReceive((batch) => {
        for (const f of batch) if (f.length === FRAME_BYTES) seen++;
        if (seen >= frames) {
          clearTimeout(timer);
          resolve(stop());
        }
      });
    });
    return { frames: seen, ...m, rate: (seen * 1000) / m.ms };
  } finally {
    await link.close();
  }
}

/**
 * JS -> kernel: write `frames` 1514-byte IPv4/UDP frames (to a closed port of the
 * kernel, which drops them after its UDP lookup) in batches of 64, as fast as the
 * binding takes them. The clock stops when the writer thread has written the last
 * queued frame. Returns frames/s accepted by the kernel (and what was dropped).
 */
export async function measureTapWrite(net, ns, frames) {
  const link = await net.tap(ns, '10.0.0.1/24');
  try {
    ip(['-n', ns, 'neigh', 'replace', '10.0.0.2', 'lladdr', OUR_MAC, 'dev', link.name, 'nud', 'permanent']);
    const kernelMac = link.kernelMac ?? macOf(ns, link.name);
    const frame = udpFrame(kernelMac);
    const batch = new Array(64).fill(frame);
    const before = link.stats;
    const stop = startMeter();
    let ringFull = 0;
    for (let sent = 0, since = 0; sent < frames; ) {
      // The ring takes a prefix of the batch; when it is full, wait a millisecond for
      // the writer thread (about 700 frames' work) and offer the rest again, so that
      // the reference measures the kernel's pace, not how fast a full ring drops.
      const offered = Math.min(batch.length, frames - sent);
      const taken = link.sendBatch(offered === batch.length ? batch : batch.slice(0, offered));
      sent += taken;
      since += taken;
      if (taken < offered) {
        ringFull++;
        await new Promise((r) => setTimeout(r, 1));
      } else if (since >= 4096) {
        // Let the loop breathe now and then, as the stack would between batches.
        since = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
    // Frames still in the writer thread's ring are not sent yet: wait for them.
    await link.flush(10_000);
    const m = stop();
    const after = link.stats;
    const accepted = after.txFrames - before.txFrames;
    // dropped: frames the kernel never took (the ring's refusals were offered again).
    return { frames: accepted, dropped: frames - accepted, ringFull, ...m, rate: (accepted * 1000) / m.ms };
  } finally {
    await link.close();
  }
}

function macOf(ns, dev) {
  const info = JSON.parse(ip(['-n', ns, '-j', 'link', 'show', 'dev', dev]).stdout)[0];
  return Uint8Array.from(info.address.split(':').map((h) => parseInt(h, 16)));
}

/** Ethernet + IPv4 (10.0.0.2 -> 10.0.0.1) + UDP (port 9, no checksum) + 1472 bytes. */
function udpFrame(dstMac) {
  const f = new Uint8Array(FRAME_BYTES);
  const v = new DataView(f.buffer);
  f.set(dstMac, 0);
  f.set(OUR_MAC.split(':').map((h) => parseInt(h, 16)), 6);
  v.setUint16(12, 0x0800);
  const ipStart = 14;
  f[ipStart] = 0x45;
  v.setUint16(ipStart + 2, 1500);
  v.setUint16(ipStart + 6, 0x4000); // DF
  f[ipStart + 8] = 64;
  f[ipStart + 9] = 17;
  f.set([10, 0, 0, 2], ipStart + 12);
  f.set([10, 0, 0, 1], ipStart + 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(ipStart + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(ipStart + 10, ~sum & 0xffff);
  v.setUint16(34, 40000);
  v.setUint16(36, 9);
  v.setUint16(38, 1480);
  f.fill(0x78, 42);
  return f;
}
