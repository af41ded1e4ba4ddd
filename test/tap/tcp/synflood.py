"""SYN flood from the kernel side of a TAP device, and a real client timing its connects.

Usage: synflood.py DEV DST_MAC DST_IP PORTS COUNT DURATION_S
Sends COUNT SYNs from spoofed sources in 172.16.0.0/12 to DST_IP:PORTS (round robin)
through a raw AF_PACKET socket on DEV, evenly over DURATION_S seconds. Halfway through
the flood and after it, a normal kernel socket connects to each port, sends one line
and reads it back; the times are printed as JSON. Bounded: COUNT frames, one device,
run inside the test's own namespace only.
"""
import json, random, socket, struct, sys, threading, time

dev, dst_mac, dst_ip, ports, count, duration = sys.argv[1], sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4].split(',')], int(sys.argv[5]), float(sys.argv[6])
src_mac = open('/sys/class/net/%s/address' % dev).read().strip()
eth = bytes.fromhex(dst_mac.replace(':', '')) + bytes.fromhex(src_mac.replace(':', '')) + b'\x08\x00'
dst = socket.inet_aton(dst_ip)

def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def words(b):
    return sum(struct.unpack('!%dH' % (len(b) // 2), b))

# MSS 1460, SACK-permitted, timestamps, NOP, window scale 7: what Linux offers.
OPTS = b'\x02\x04\x05\xb4' + b'\x04\x02' + b'\x08\x0a' + b'\x00\x00\x00\x01' + b'\x00\x00\x00\x00' + b'\x01' + b'\x03\x03\x07'

def syn(rng, port):
    src = struct.pack('!I', (172 << 24 | 16 << 16) + rng.getrandbits(20))
    sport = rng.randint(1024, 65535)
    tcp = struct.pack('!HHIIBBHHH', sport, port, rng.getrandbits(32), 0, (5 + len(OPTS) // 4) << 4, 0x02, 64240, 0, 0) + OPTS
    pseudo = src + dst + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', fold(words(pseudo) + words(tcp))) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), rng.getrandbits(16), 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', fold(words(ip))) + ip[12:]
    return eth + ip + tcp

sent = [0]
def flood():
    rng = random.Random(4987)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    batches = max(1, int(duration * 20))  # every 50 ms
    per = (count + batches - 1) // batches
    start = time.monotonic()
    for b in range(batches):
        for _ in range(min(per, count - sent[0])):
            try:
                s.send(syn(rng, ports[sent[0] % len(ports)]))
            except OSError:  # ENOBUFS: the device queue is full; the frame is lost like on a wire
                pass
            sent[0] += 1
        delay = start + (b + 1) * 0.05 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.close()

def client(port):
    t0 = time.monotonic()
    c = socket.create_connection((dst_ip, port), timeout=30)
    t1 = time.monotonic()
    c.sendall(b'hello\n')
    got = b''
    while not got.endswith(b'\n'):
        b = c.recv(100)
        if not b:
            break
        got += b
    c.close()
    return {'port': port, 'connect_ms': round((t1 - t0) * 1000, 1), 'echo': got.decode()}

f = threading.Thread(target=flood)
f.start()
time.sleep(duration / 2)
during = [client(p) for p in ports]
during_sent = sent[0]
f.join()
after = [client(p) for p in ports]
print(json.dumps({'sent': sent[0], 'during_at': during_sent, 'during': during, 'after': after}))
