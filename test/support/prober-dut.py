"""The Linux device under test of the conformance suite: kernel sockets on command.

Runs in the namespace that holds the Linux end of the veth pair (10.0.0.1) and does
what the test asks, one JSON object per line on stdin; answers one JSON line each
({"id": N, "ok": true, ...} or {"id": N, "error": "..."}). Connections are named by
their local port (each probe uses its own ports):

  listen   port [backlog] [read]           accept connections on port; read=false leaves
                                            arriving data unread (the window closes)
  connect  port rport [read]                connect from 10.0.0.1:port to 10.0.0.2:rport
  send     port hex                         write bytes (answered at once; the write may block)
  nodelay  port                             TCP_NODELAY
  read     port                             start reading (after read=false)
  shutdown port                             half-close: FIN
  close    port                             close the connection (waiting for accept) and the listener
  release  port                             close whatever is open on port, without waiting
  received port                             bytes read so far, and whether EOF came
"""
import json
import queue
import socket
import sys
import threading
import time

ADDR = '10.0.0.1'
out_lock = threading.Lock()
conns = {}      # port -> connected socket
listeners = {}  # port -> listening socket
received = {}   # port -> [bytes read, eof seen]


def answer(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()


def reader(port, s):
    while True:
        try:
            b = s.recv(1 << 16)
        except OSError:
            return
        if not b:
            received[port][1] = True
            return
        received[port][0] += len(b)


def start_reading(port):
    threading.Thread(target=reader, args=(port, conns[port]), daemon=True).start()


def accept_loop(port, l, read):
    while True:
        try:
            s, _ = l.accept()
        except OSError:
            return
        conns[port] = s  # the newest connection on the port (TIME-WAIT reuse makes a second)
        received[port] = [0, False]
        if read:
            start_reading(port)


def connect(port, rport, read):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ADDR, port))
    conns[port] = s
    received[port] = [0, False]
    try:
        s.connect(('10.0.0.2', rport))
    except OSError:
        return
    if read:
        start_reading(port)


def conn(port):
    # The handshake's last ACK may still be on its way to accept(): wait a little.
    for _ in range(300):
        if port in conns:
            return conns[port]
        time.sleep(0.01)
    raise KeyError('no connection on port %d' % port)


def background(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


def handle(cmd):
    op, port = cmd['op'], cmd['port']
    if op == 'listen':
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind((ADDR, port))
        l.listen(cmd.get('backlog', 16))
        listeners[port] = l
        background(accept_loop, port, l, cmd.get('read', True))
    elif op == 'connect':
        background(connect, port, cmd['rport'], cmd.get('read', True))
    elif op == 'send':
        # Answered at once, like a write into the socket buffer; the port's worker
        # then blocks in sendall while the window is closed, so a later shutdown
        # on the same port still comes after the data.
        answer({'id': cmd['id'], 'ok': True})
        conn(port).sendall(bytes.fromhex(cmd['hex']))
        return None
    elif op == 'nodelay':
        conn(port).setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    elif op == 'read':
        conn(port)
        start_reading(port)
    elif op == 'shutdown':
        conn(port).shutdown(socket.SHUT_WR)
    elif op in ('close', 'release'):
        if op == 'close':
            conn(port)
        if port in listeners:
            listeners.pop(port).close()
        s = conns.pop(port, None)
        if s is not None:
            s.close()
    elif op == 'received':
        n, eof = received.get(port, [0, False])
        return {'bytes': n, 'eof': eof}
    else:
        raise ValueError('unknown op ' + op)
    return {}


def run(cmd):
    try:
        result = handle(cmd)
        if result is not None:
            result.update({'id': cmd['id'], 'ok': True})
            answer(result)
    except Exception as e:  # report, keep serving the other probes
        answer({'id': cmd['id'], 'error': '%s: %s' % (type(e).__name__, e)})


def worker(q):
    while True:
        run(q.get())


# One worker per port: a probe's commands run in order, probes do not wait for each other.
queues = {}
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd['op'] == 'received':
        run(cmd)
        continue
    q = queues.get(cmd['port'])
    if q is None:
        q = queues[cmd['port']] = queue.Queue()
        threading.Thread(target=worker, args=(q,), daemon=True).start()
    q.put(cmd)
