/** The connection states of RFC 9293 3.3.2, spelled as the RFC spells them. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** States in which both sequence spaces are known (RFC 9293 3.10.7.4 "otherwise"). */
export function isSynchronized(state: TcpState): boolean {
  return state !== 'CLOSED' && state !== 'LISTEN' && state !== 'SYN-SENT' && state !== 'SYN-RECEIVED';
}

/** States in which arriving data is accepted (RFC 9293 3.10.7.4, seventh step). */
export function canReceiveData(state: TcpState): boolean {
  return state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2';
}
