import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, createCliNamespace, type CliNamespace } from '../support/cli.js';
import { describeTap } from '../support/gate.js';
import { sha256, testBytes } from '../../support/tcp-hosts.js';

const STRAY_SYN = join(dirname(fileURLToPath(import.meta.url)), 'stray-syn.py');

/**
 * `tapstack nc` as users run it: the compiled CLI runs inside a fresh namespace on a
 * persistent TAP device made there (kernel side 10.0.0.1/24, our stack 10.0.0.2), and
 * python3 sockets in the same namespace are the kernel peer.
 */
let net: CliNamespace;
let dir: string;

/** Run a shell line inside the namespace (the tests redirect files in and out of nc). */
const inNs = (line: string) => net.exec('sh', ['-c', line]);

const nc = (args: string) => `${process.execPath} ${CLI} nc ${args} --tap ${net.dev} --ip 10.0.0.2/24`;

// Kernel peer: connect or listen, send a file while reading everything into another.
const PEER = String.raw`
import socket, sys, threading, time
mode, port, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == 'connect':
    for i in range(100):
        try:
            s = socket.create_connection(('10.0.0.2', port), timeout=30); break
        except (ConnectionRefusedError, OSError):
            time.sleep(0.1)
else:
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(('10.0.0.1', port)); l.listen(1); s, _ = l.accept(); s.settimeout(30)
def send():
    s.sendall(open(src, 'rb').read()); s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
with open(dst, 'wb') as f:
    while True:
        b = s.recv(65536)
        if not b: break
        f.write(b)
t.join(); s.close(); print('peer done')
`;

/** Wait until the kernel in the namespace listens on `port` (python may start slowly under load). */
async function kernelListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await net.exec('ss', ['-Hltn', `sport = :${port}`])).stdout.includes(`:${port}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the kernel does not listen on port ${port}`);
}

describeTap('tapstack nc over a TAP device', () => {
  beforeAll(async () => {
    net = await createCliNamespace('nc');
    dir = mkdtempSync(join(tmpdir(), 'tapstack-nc-'));
    writeFileSync(join(dir, 'peer.py'), PEER);
    writeFileSync(join(dir, 'ours.bin'), testBytes(3_000_000, 1));
    writeFileSync(join(dir, 'theirs.bin'), testBytes(2_000_000, 2));
  });

  afterAll(async () => {
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('nc -l: the kernel connects, both directions arrive intact, half-close both ways', async () => {
    const [ours, peer] = await Promise.all([
      inNs(`${nc('-l 5001')} < ${dir}/ours.bin > ${dir}/got-l.bin`),
      inNs(`python3 ${dir}/peer.py connect 5001 ${dir}/theirs.bin ${dir}/peer-got-l.bin`),
    ]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(peer.stdout.trim()).toBe('peer done');
    expect(sha256(readFileSync(join(dir, 'got-l.bin')))).toBe(sha256(readFileSync(join(dir, 'theirs.bin'))));
    expect(sha256(readFileSync(join(dir, 'peer-got-l.bin')))).toBe(sha256(readFileSync(join(dir, 'ours.bin'))));
  });

  it('nc -l (backlog 1) still answers after one stray SYN (SYN cookie, RFC 4987)', async () => {
    // One SYN from an address nobody answers for takes the only SYN queue slot; the
    // real client right after it must still get in (it used to wait 127 s).
    const listening = inNs(`${nc('-l 5003')} < /dev/null > ${dir}/got-stray.bin`);
    const stray = await net.exec('python3', [STRAY_SYN, net.dev, '10.0.0.2', '5003'], { timeoutMs: 30_000 });
    expect(stray.stdout.trim()).toBe('stray half-open 5003');
    const client = await net.exec(
      'python3',
      ['-c', `import socket, time\nt = time.monotonic()\ns = socket.create_connection(('10.0.0.2', 5003), timeout=10)\nprint(round((time.monotonic() - t) * 1000))\ns.sendall(b'hi')\ns.close()`],
      { timeoutMs: 30_000 },
    );
    expect(client.stderr).toBe('');
    expect(Number(client.stdout.trim())).toBeLessThan(1000);
    const ours = await listening;
    expect(ours.code).toBe(0);
    expect(readFileSync(join(dir, 'got-stray.bin'), 'utf8')).toBe('hi');
  });

  it('nc HOST PORT: we connect to the kernel', async () => {
    const peerRun = inNs(`python3 ${dir}/peer.py listen 6001 ${dir}/theirs.bin ${dir}/peer-got-c.bin`);
    await kernelListening(6001);
    const ours = await inNs(`${nc('10.0.0.1 6001')} < ${dir}/ours.bin > ${dir}/got-c.bin`);
    const peer = await peerRun;
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(peer.stdout.trim()).toBe('peer done');
    expect(sha256(readFileSync(join(dir, 'got-c.bin')))).toBe(sha256(readFileSync(join(dir, 'theirs.bin'))));
    expect(sha256(readFileSync(join(dir, 'peer-got-c.bin')))).toBe(sha256(readFileSync(join(dir, 'ours.bin'))));
  });

  it('a closed port: one line, exit 1', async () => {
    const r = await inNs(`${nc('10.0.0.1 9')} < /dev/null`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tapstack: nc: connect to 10.0.0.1 port 9 failed: Connection refused\n');
  });

  it('bad arguments: one line, exit 2', async () => {
    const r = await inNs(`${nc('10.0.0.1')} < /dev/null`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
