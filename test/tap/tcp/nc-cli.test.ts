import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeTap } from '../support/gate.js';
import { testBytes } from '../../support/tcp-hosts.js';

/**
 * `tapstack nc` as users run it: the compiled CLI runs inside a fresh namespace on a
 * persistent TAP device made there (kernel side 10.0.0.1/24, our stack 10.0.0.2), and
 * python3 sockets in the same namespace are the kernel peer.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/cli/main.js');
const ns = `tapstack-nc-${process.pid}`;
const dev = `tsnc${process.pid.toString(36)}`.slice(0, 15);
let dir: string;

function sh(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): void {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

function newest(d: string): number {
  let t = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Run a shell line inside the namespace. */
function inNs(line: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', line], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const nc = (args: string) => `${process.execPath} ${cli} nc ${args} --tap ${dev} --ip 10.0.0.2/24`;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

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

describeTap('tapstack nc over a TAP device', () => {
  beforeAll(() => {
    if (!existsSync(cli) || newest(join(root, 'src')) > statSync(cli).mtimeMs) {
      sh('npx', ['tsc', '-p', join(root, 'tsconfig.build.json')]);
    }
    dir = mkdtempSync(join(tmpdir(), 'tapstack-nc-'));
    writeFileSync(join(dir, 'peer.py'), PEER);
    writeFileSync(join(dir, 'ours.bin'), testBytes(3_000_000, 1));
    writeFileSync(join(dir, 'theirs.bin'), testBytes(2_000_000, 2));
    must('ip', ['netns', 'add', ns]);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'tuntap', 'add', 'dev', dev, 'mode', 'tap']);
    must('ip', ['-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', dev]);
    must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  });

  afterAll(() => {
    sh('ip', ['netns', 'delete', ns]);
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
    expect(sha(readFileSync(join(dir, 'got-l.bin')))).toBe(sha(readFileSync(join(dir, 'theirs.bin'))));
    expect(sha(readFileSync(join(dir, 'peer-got-l.bin')))).toBe(sha(readFileSync(join(dir, 'ours.bin'))));
  });

  it('nc HOST PORT: we connect to the kernel', async () => {
    const peerRun = inNs(`python3 ${dir}/peer.py listen 6001 ${dir}/theirs.bin ${dir}/peer-got-c.bin`);
    await new Promise((r) => setTimeout(r, 300));
    const ours = await inNs(`${nc('10.0.0.1 6001')} < ${dir}/ours.bin > ${dir}/got-c.bin`);
    const peer = await peerRun;
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(peer.stdout.trim()).toBe('peer done');
    expect(sha(readFileSync(join(dir, 'got-c.bin')))).toBe(sha(readFileSync(join(dir, 'theirs.bin'))));
    expect(sha(readFileSync(join(dir, 'peer-got-c.bin')))).toBe(sha(readFileSync(join(dir, 'ours.bin'))));
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
