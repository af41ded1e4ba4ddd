/**
 * /etc/resolv.conf as resolv.conf(5) describes it: which recursive servers to ask
 * (`nameserver`, up to three are used by libc) and which domains to try for a name
 * without a dot (`search`, or the older `domain`). Only what our resolver can use is
 * kept: IPv4 servers that are not loopback (a 127.x resolver such as systemd-resolved
 * lives in the kernel's own stack, which ours cannot reach).
 */
import { parseIpv4 } from '../wire/address.js';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [] };
  for (const raw of text.split('\n')) {
    // resolv.conf(5): '#' or ';' at the start of a line begins a comment.
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    if (keyword === 'nameserver') {
      const address = parseIpv4(values[0] ?? '');
      if (address !== null && address >>> 24 !== 127 && conf.nameservers.length < 3) conf.nameservers.push(values[0]!);
    } else if (keyword === 'search' || keyword === 'domain') {
      // The last search or domain line wins (resolv.conf(5)).
      conf.search = values.filter((v) => v !== '');
    }
  }
  return conf;
}

/** The names to try for `name`, in order: as given when it has a dot, else with each search domain first. */
export function candidateNames(name: string, conf: ResolvConf): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1)];
  const withSearch = conf.search.map((d) => `${name}.${d}`);
  return name.includes('.') ? [name, ...withSearch] : [...withSearch, name];
}
