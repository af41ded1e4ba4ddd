"""Raw frame pipe for the conformance suite (test/conformance).

Runs inside a test namespace on one interface: the kernel side of the TAP that our
stack sits behind, or the prober's end of the veth pair whose other end is Linux.
It interprets nothing: every line of hex on stdin is sent as one Ethernet frame, and
every frame that arrives on the interface is written to stdout as
"<monotonic seconds> <hex>". Frames this socket sent itself (PACKET_OUTGOING) are
not echoed. The interface has no IP address, so the kernel under it answers none of
the crafted traffic; the test (prober.ts) builds and judges the frames.

Usage: python3 prober.py IFNAME      (stdlib only; exits when stdin closes)
"""
import os
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

ifname = sys.argv[1]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind((ifname, 0))


def send_lines():
    for line in sys.stdin:
        line = line.strip()
        if line:
            sock.send(bytes.fromhex(line))
    os._exit(0)  # stdin closed: the test is done with us


threading.Thread(target=send_lines, daemon=True).start()
print('ready', flush=True)
out = sys.stdout
while True:
    frame, addr = sock.recvfrom(65536)
    if addr[2] == PACKET_OUTGOING:
        continue
    out.write('%.6f %s\n' % (time.monotonic(), frame.hex()))
    out.flush()
