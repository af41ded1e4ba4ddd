"""Raw frame pipe for the conformance suite (test/conformance).

Runs inside a test namespace on one interface: the kernel side of the TAP that our
stack sits behind, or the prober's end of the veth pair whose other end is Linux.
It interprets nothing: every line of hex on stdin is sent as one Ethernet frame and
answered with "s <time>", the moment it was handed to the kernel; every frame that
arrives on the interface is written as "r <time> <hex>", with the kernel's receive
timestamp (SO_TIMESTAMPNS), so that a busy machine delaying this process does not
show as a slow dut. Times are CLOCK_REALTIME seconds. Frames that leave the
interface (PACKET_OUTGOING) are not echoed. The interface has no IP address, so the
kernel under it answers none of the crafted traffic; the test (prober.ts) builds
and judges the frames.

Usage: python3 prober.py IFNAME      (stdlib only; exits when stdin closes)
"""
import os
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, 'SO_TIMESTAMPNS', 35)

ifname = sys.argv[1]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
sock.bind((ifname, 0))
out_lock = threading.Lock()


def emit(line):
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def send_lines():
    for line in sys.stdin:
        line = line.strip()
        if line:
            frame = bytes.fromhex(line)
            at = time.time()
            sock.send(frame)
            emit('s %.6f\n' % at)
    os._exit(0)  # stdin closed: the test is done with us


threading.Thread(target=send_lines, daemon=True).start()
emit('ready\n')
while True:
    frame, ancillary, _, addr = sock.recvmsg(65536, socket.CMSG_SPACE(16))
    if addr[2] == PACKET_OUTGOING:
        continue
    at = time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack('qq', data[:16])
            at = sec + nsec / 1e9
    emit('r %.6f %s\n' % (at, frame.hex()))
