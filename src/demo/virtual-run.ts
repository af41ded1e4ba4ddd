import { yieldToEventLoop, type VirtualClock } from '../stack/clock.js';

/**
 * Drive a piece of work that runs on a VirtualClock to its end, deterministically.
 *
 * The memory demo's stacks only move when their clock fires a timer, but the FTP
 * server and client also read and write real files, and those complete on Node's
 * thread pool at their own pace. If the clock jumped ahead while a file read was in
 * flight, a retransmission timer could fire before the data it would have carried
 * existed, and the same seed would draw a different diagram on a busy machine.
 * So the clock only moves when the process is quiet: no file request pending and
 * every callback that the last timer caused has run.
 */
export async function runOnVirtualClock<T>(clock: VirtualClock, work: Promise<T>, limitMs = 10 * 60_000): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  done.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
  const start = clock.now();
  while (!settled) {
    await quiet();
    if (settled) break;
    const due = clock.nextDue();
    if (due === undefined) throw new Error(`the session stalled at ${clock.now() - start} ms of virtual time: nothing left to wait for`);
    if (due - start > limitMs) throw new Error(`the session did not finish within ${limitMs / 1000} s of virtual time`);
    // Fire only the timers due at that instant; what they cause runs before the next jump.
    clock.advance(due - clock.now());
  }
  return done;
}

/** File requests (fs callbacks and fs/promises, and a FileHandle's close, 'CloseReq') that have not completed yet. */
function pendingFileRequests(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('FSReq') || r === 'CloseReq').length;
}

/** Let the event loop run until no file request is pending and callbacks have drained. */
async function quiet(): Promise<void> {
  // Bounded in real time: a file request that never completes must not hang the demo.
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (let i = 0; i < 4; i++) await yieldToEventLoop();
    if (pendingFileRequests() === 0 || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
