"""Leave one half-open connection on a listener: a SYN from an address nobody uses.

Usage: stray-syn.py DEV DST_IP PORT
Sends a SYN from 10.0.0.77 (a made-up neighbour) to DST_IP:PORT through a raw
AF_PACKET socket on DEV and answers the stack's ARP request for 10.0.0.77 with a
made-up MAC, so the answer can be seen: a RST means the port is not listening yet
(then it tries again with another source port), a SYN,ACK means the listener now
holds a half-open entry that will never complete. Prints "stray half-open PORT".
"""
import socket, struct, sys, time

dev, dst_ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
FAKE_IP, FAKE_MAC = socket.inet_aton('10.0.0.77'), bytes.fromhex('020000000077')
our_mac = bytes.fromhex(open('/sys/class/net/%s/address' % dev).read().strip().replace(':', ''))
dst = socket.inet_aton(dst_ip)

def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def words(b):
    return sum(struct.unpack('!%dH' % (len(b) // 2), b))

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((dev, 0))
s.settimeout(0.2)
stack_mac = None

def send_syn(sport):
    tcp = struct.pack('!HHIIBBHHH', sport, port, 12345, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', fold(words(FAKE_IP + dst + struct.pack('!BBH', 0, 6, 20)) + words(tcp))) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, 1, 0, 64, 6, 0, FAKE_IP, dst)
    ip = ip[:10] + struct.pack('!H', fold(words(ip))) + ip[12:]
    to = stack_mac or b'\xff' * 6
    s.send(to + FAKE_MAC + b'\x08\x00' + ip + tcp)

deadline = time.monotonic() + 20
sport = 33000
while time.monotonic() < deadline:
    sport += 1
    if stack_mac is None:
        # Learn the stack's MAC from its answer to an ARP request for it.
        s.send(b'\xff' * 6 + FAKE_MAC + b'\x08\x06' + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, FAKE_MAC, FAKE_IP, b'\0' * 6, dst))
    else:
        send_syn(sport)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        etype = f[12:14]
        if etype == b'\x08\x06' and f[28:32] == dst:
            op = struct.unpack('!H', f[20:22])[0]
            if op == 2 and f[38:42] == FAKE_IP:
                stack_mac = f[22:28]
            elif op == 1 and f[38:42] == FAKE_IP:  # who-has 10.0.0.77: us, by a made-up MAC
                s.send(f[6:12] + FAKE_MAC + b'\x08\x06' + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 2, FAKE_MAC, FAKE_IP, f[22:28], dst))
        elif etype == b'\x08\x00' and f[30:34] == FAKE_IP and f[9 + 14] == 6:
            ihl = (f[14] & 0xf) * 4
            t = f[14 + ihl:]
            dport, flags = struct.unpack('!H', t[2:4])[0], t[13]
            if dport == sport and flags & 0x12 == 0x12:
                print('stray half-open', port)
                sys.exit(0)
            if dport == sport and flags & 0x04:
                break  # not listening yet: try again
    if stack_mac is not None and sport > 33000:
        time.sleep(0.1)
print('no SYN,ACK within 20 s')
sys.exit(1)
