import { NetError } from '../stack/net-error.js';
import { DnsRcode } from '../wire/dns.js';

/**
 * Resolver errors carry the codes of Node's dns module, so code written against
 * dns.promises handles them unchanged: ENOTFOUND (NXDOMAIN), ENODATA (the name exists
 * but has no record of that type), ESERVFAIL, EREFUSED, ETIMEOUT, EBADNAME, ...
 */
export class DnsError extends NetError {
  constructor(
    code: string,
    readonly hostname: string,
    readonly syscall: string,
    /** Why, without code and name: "no answer from 10.0.0.1 after 2000 ms". */
    readonly reason: string,
  ) {
    super(code, `${syscall} ${hostname}: ${reason}`);
    this.name = 'DnsError';
  }
}

/** The error code for an RCODE that ends a query (RFC 1035 4.1.1). */
export function rcodeErrorCode(rcode: number): string {
  switch (rcode) {
    case DnsRcode.FORMERR:
      return 'EFORMERR';
    case DnsRcode.SERVFAIL:
      return 'ESERVFAIL';
    case DnsRcode.NXDOMAIN:
      return 'ENOTFOUND';
    case DnsRcode.NOTIMP:
      return 'ENOTIMP';
    case DnsRcode.REFUSED:
      return 'EREFUSED';
    default:
      return 'EBADRESP';
  }
}
