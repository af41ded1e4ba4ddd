// Kernel-side FTP load for ftp.bench.mjs (python3, stdlib only).

/**
 * Many clients logging in at once:
 *   python3 -c FTP_LOGINS HOST PORT N INFLIGHT TIMEOUT
 * Opens N control connections (asyncio), at most INFLIGHT logins under way at a time
 * (0: all N at once); each reads the 220 greeting, sends USER anonymous / PASS and
 * waits for the final 230, or gives up after TIMEOUT seconds. Prints one JSON line
 * (wall seconds until every login ended, until the last successful one, per-login
 * p50/p99/max, failures by reason), then
 * keeps every session open and idle until a line arrives on stdin, then sends QUIT on
 * each, waits for the 221s and exits.
 */
export const FTP_LOGINS = String.raw`
import asyncio, collections, json, sys, time
host, port, n, inflight, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

async def reply(r):
    # RFC 959 4.2: the reply ends with a line "ddd " (continuations are "ddd-" ...).
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError('closed by server')
        if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b' ':
            return int(line[:3])

async def login(gate):
    async with gate:
        return await asyncio.wait_for(attempt(), timeout)

async def attempt():
    t0 = time.monotonic()
    r, w = await asyncio.open_connection(host, port)
    for send, want in ((None, 220), (b'USER anonymous\r\n', 331), (b'PASS bench@localhost\r\n', 230)):
        if send:
            w.write(send)
        code = await reply(r)
        if code != want:
            w.close()
            raise RuntimeError('reply %d, wanted %d' % (code, want))
    return r, w, time.monotonic() - t0, time.monotonic()

async def main():
    gate = asyncio.Semaphore(inflight if inflight > 0 else n)
    t0 = time.monotonic()
    results = await asyncio.gather(*(login(gate) for _ in range(n)), return_exceptions=True)
    seconds = time.monotonic() - t0
    ok = [x for x in results if not isinstance(x, BaseException)]
    errors = collections.Counter(type(x).__name__ + ': ' + str(x)[:60] for x in results if isinstance(x, BaseException))
    times = sorted(x[2] for x in ok) or [float('nan')]
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    last_ok = max((x[3] for x in ok), default=t0) - t0
    print(json.dumps({'clients': n, 'ok': len(ok), 'seconds': seconds, 'last_ok': last_ok, 'p50': pick(0.5), 'p99': pick(0.99),
                      'max': times[-1], 'errors': dict(errors)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for r, w, *_ in ok:
        w.write(b'QUIT\r\n')
    await asyncio.gather(*(asyncio.wait_for(reply(r), 10) for r, w, *_ in ok), return_exceptions=True)
    for r, w, *_ in ok:
        w.close()

asyncio.run(main())
`;
