import { FtpUsageError } from './errors.js';

/** An `ftp://[user[:pass]@]host[:port]/path` URL (RFC 1738 3.2), percent-decoded. */
export interface FtpUrl {
  host: string;
  port: number;
  /** Undefined when the URL has none: log in anonymously. */
  user?: string;
  password?: string;
  /** The path after the host, decoded, without the leading '/' (RFC 1738: relative to the login directory). */
  path: string;
  /** True when the URL ends with '/': it names a directory. */
  isDirectory: boolean;
  /**
   * RFC 1738 3.2.2 `;type=a|i|d` at the end of the path: 'A' (ASCII), 'I' (image),
   * 'D' (list the directory with NLST); undefined when the URL has none.
   */
  type?: 'A' | 'I' | 'D';
}

export function parseFtpUrl(text: string): FtpUrl {
  const m = /^ftp:\/\/(?:([^@/]*)@)?(\[[^\]]*\]|[^/:]*)(?::(\d*))?(\/.*)?$/i.exec(text.trim());
  if (!m) throw new FtpUsageError(`not an ftp:// URL: ${text}`);
  const [, userinfo, host, portText, pathText] = m;
  if (!host) throw new FtpUsageError(`no host in ${text}`);
  const port = portText ? Number(portText) : 21;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FtpUsageError(`bad port in ${text}`);
  const url: FtpUrl = { host: decode(host), port, path: '', isDirectory: true };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    url.user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (colon >= 0) url.password = decode(userinfo.slice(colon + 1));
  }
  // RFC 1738 3.2.2: ';type=a', ';type=i' or ';type=d' may end the path.
  const typed = /;type=([aid])$/i.exec(pathText ?? '');
  if (typed) url.type = typed[1]!.toUpperCase() as 'A' | 'I' | 'D';
  const raw = (pathText ?? '/').replace(/;type=[aid]$/i, '').slice(1);
  url.path = raw.split('/').map(decode).join('/');
  url.isDirectory = raw === '' || raw.endsWith('/');
  if (/[\r\n\0]/.test(url.path) || /[\r\n\0]/.test(url.user ?? '') || /[\r\n\0]/.test(url.password ?? '')) {
    throw new FtpUsageError('line breaks are not allowed in an FTP URL');
  }
  return url;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new FtpUsageError(`bad percent-encoding: ${s}`);
  }
}
