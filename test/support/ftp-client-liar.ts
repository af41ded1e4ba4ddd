/**
 * A lying FTP server for the CLI tests, as a Python script run on the kernel side of
 * the test namespace (`python3 -c LIAR_SERVER PORT SIZE SHORT_BY`): it announces a file
 * of SIZE bytes (SIZE reply and "(N bytes)" in the 150), sends SHORT_BY bytes fewer over
 * the data connection, then says "226 Transfer complete." as if all were well: what a
 * cut connection behind a middlebox looks like. Passive mode only (EPSV and PASV).
 */
export const LIAR_SERVER = String.raw`
import socket, sys
port, size, short_by = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = bytes((i * 7) & 0xff for i in range(size))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('10.0.0.1', port)); srv.listen(4)
def session(c):
    f = c.makefile('rb')
    say = lambda line: c.sendall((line + '\r\n').encode())
    say('220 liar ready')
    data = None
    for raw in f:
        verb, _, arg = raw.decode().strip().partition(' ')
        verb = verb.upper()
        if verb == 'USER': say('331 Password please.')
        elif verb == 'PASS': say('230 Logged in.')
        elif verb == 'SYST': say('215 UNIX Type: L8')
        elif verb == 'TYPE': say('200 Type set.')
        elif verb == 'SIZE': say('213 %d' % size)
        elif verb in ('EPSV', 'PASV'):
            data = socket.socket(); data.bind(('10.0.0.1', 0)); data.listen(1)
            p = data.getsockname()[1]
            say('229 Entering Extended Passive Mode (|||%d|)' % p if verb == 'EPSV' else '227 Entering Passive Mode (10,0,0,1,%d,%d)' % (p >> 8, p & 255))
        elif verb == 'RETR':
            say('150 Opening BINARY mode data connection for %s (%d bytes).' % (arg, size))
            d, _ = data.accept(); d.sendall(body[:size - short_by]); d.close(); data.close()
            say('226 Transfer complete.')
        elif verb == 'QUIT':
            say('221 Goodbye.'); break
        else: say('500 Unknown command.')
    c.close()
while True:
    conn, _ = srv.accept()
    try: session(conn)
    except OSError: pass
`;
