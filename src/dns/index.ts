export { Resolver, type ResolverOptions, type ResolveResult, type RecordWithTtl } from './resolver.js';
export { DnsResponder, soaFor, type ResponderOptions } from './responder.js';
export { ZoneData, parseZoneFile, parseRecordArgument, defaultZoneFor, DEFAULT_TTL, type Zone } from './zone.js';
export { DnsCache } from './cache.js';
export { DnsError } from './errors.js';
export { DnsTcpDeframer } from './tcp-framing.js';
