// Kernel-side programs the benchmarks run inside a namespace (python3, stdlib only).

/**
 * A bulk TCP peer on the kernel's stack:
 *   python3 -c TCP_PEER send|recv connect|listen HOST PORT BYTES
 * `send` writes BYTES (a 1 MiB pattern over and over), half-closes and waits for the
 * other side's FIN, so its time covers delivery; `recv` reads until EOF and discards.
 * A listener prints `listening` once it accepts. At the end it prints one JSON line:
 * bytes moved, seconds from the connection to the end, CPU seconds it used itself.
 */
export const TCP_PEER = String.raw`
import json, resource, socket, sys, time
role, mode, host, port, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if mode == 'connect':
    for attempt in range(200):
        try:
            s = socket.create_connection((host, port), timeout=120)
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
else:
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port))
    l.listen(1)
    print('listening', flush=True)
    s, _ = l.accept()
    s.settimeout(120)
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0, n = cpu(), time.monotonic(), 0
if role == 'send':
    chunk = memoryview(bytes(range(256)) * 4096)
    while n < size:
        k = min(size - n, len(chunk))
        s.sendall(chunk[:k])
        n += k
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
else:
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
t1 = time.monotonic()
s.close()
print(json.dumps({'bytes': n, 'seconds': t1 - t0, 'cpu': cpu() - c0}), flush=True)
`;

/** The last JSON line a peer printed. */
export function peerResult(stdout) {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the peer printed no result: ${stdout.trim()}`);
  return JSON.parse(line);
}
