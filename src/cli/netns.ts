import type { Command } from 'commander';
import { deleteNamespace, listNamespaces, Namespace, run } from '../netns/index.js';
import { formatIpv4, parseCidr } from '../wire/address.js';
import { fatal, parseIntArg, usageError } from './common.js';

/**
 * `tapstack netns up|down|status`: a private network to try tapstack by hand (what
 * scripts/netns.sh runs). `up NAME` makes the namespace `tapstack-NAME` with
 * persistent TAP devices whose kernel side has an address; tapstack then runs INSIDE
 * it (`ip netns exec tapstack-NAME tapstack up --tap tap0 ...`), so nothing in the
 * root namespace changes. It stays until `down NAME`; a failed `up` removes it again.
 *
 * Persistent TAP devices (made inside with `ip tuntap add`) rather than ones this
 * process holds: a persistent TAP can be opened by name later, from inside the
 * namespace, by a tapstack started by hand.
 */

interface UpOptions {
  tap: string;
  ip: string;
  taps: string;
  ipv6?: boolean;
}

function namespaceOf(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) usageError(`netns: NAME must be 1-20 of [a-z0-9-], got "${name}"`);
  return `tapstack-${name}`;
}

function needRoot(): void {
  if (process.getuid?.() !== 0) fatal('netns: needs root (namespaces and TAP devices need CAP_NET_ADMIN): run with sudo', 2);
}

async function up(name: string, opts: UpOptions): Promise<void> {
  const ns = namespaceOf(name);
  const cidr = parseCidr(opts.ip);
  if (cidr === null) usageError(`--ip: "${opts.ip}" is not ADDRESS/PREFIX (e.g. 10.0.0.1/24)`);
  const taps = parseIntArg('--taps', opts.taps, 1, 8);
  if (!/^[a-zA-Z0-9_.-]{1,14}$/.test(opts.tap)) usageError(`--tap: must be 1-14 of [a-zA-Z0-9_.-], got "${opts.tap}"`);
  needRoot();

  // tap0 alone, or tap0..tapN-1 on a bridge br0 that carries the kernel address.
  const base = opts.tap.replace(/[0-9]+$/, '');
  const devices = taps === 1 ? [opts.tap] : Array.from({ length: taps }, (_, i) => `${base}${i}`);
  let space: Namespace;
  try {
    space = await Namespace.create(name, { name: ns, persistent: true, disableIpv6: !opts.ipv6 });
  } catch (err) {
    fatal(`netns: ${(err as Error).message}`);
  }
  const kernelDev = taps === 1 ? opts.tap : 'br0';
  try {
    // The queue towards the stack that the TAP binding gives the devices it creates itself.
    for (const dev of devices) await space.addPersistentTap(dev, { txqueuelen: 4096 });
    if (taps > 1) {
      await space.addBridge('br0');
      for (const dev of devices) await space.enslave(dev, 'br0');
      await space.setUp('br0');
    }
    await space.addAddress(kernelDev, opts.ip);
    for (const dev of devices) await space.setUp(dev);
  } catch (err) {
    await space.remove().catch(() => {});
    fatal(`netns: setup failed, ${ns} removed: ${(err as Error).message}`);
  }

  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out(`${ns} is up: kernel side ${opts.ip} on ${kernelDev}, TAP device(s): ${devices.join(' ')}`);
  // Suggest the addresses after the kernel's for the stacks (enough for a lab).
  devices.forEach((dev, i) => out(`  sudo ip netns exec ${ns} tapstack up --tap ${dev} --ip ${formatIpv4(cidr.address + i + 1)}/${cidr.prefixLength}`));
  out(`  sudo ip netns exec ${ns} ping -c 3 ${formatIpv4(cidr.address + 1)}`);
  out(`  sudo scripts/netns.sh down ${name}`);
}

async function down(name: string): Promise<void> {
  const ns = namespaceOf(name);
  needRoot();
  // Idempotent: deleting the namespace deletes the TAP devices and the bridge in it.
  const removed = await deleteNamespace(ns).catch((err: Error) => fatal(`netns: ${err.message}`));
  process.stdout.write(removed ? `${ns} removed\n` : `${ns} does not exist (nothing to do)\n`);
}

async function status(name: string | undefined): Promise<void> {
  needRoot();
  if (name === undefined) {
    const ours = (await listNamespaces()).filter((ns) => ns.startsWith('tapstack-'));
    process.stdout.write(ours.length > 0 ? `${ours.join('\n')}\n` : 'no tapstack-* namespaces\n');
    return;
  }
  const ns = namespaceOf(name);
  for (const what of ['link', 'addr']) {
    const r = await run('ip', ['-n', ns, '-br', what]);
    if (r.code !== 0) fatal(`netns: ${r.stderr.trim()}`);
    process.stdout.write(r.stdout);
  }
}

export function register(program: Command): void {
  const netns = program
    .command('netns')
    .description('make or remove a private network namespace with TAP devices, to try tapstack by hand')
    .addHelpText(
      'after',
      '\nExample:\n  sudo tapstack netns up lab\n  sudo ip netns exec tapstack-lab tapstack up --tap tap0 --ip 10.0.0.2/24\n  sudo ip netns exec tapstack-lab ping -c 3 10.0.0.2\n  sudo tapstack netns down lab',
    );
  netns
    .command('up <name>')
    .description('make namespace tapstack-NAME with TAP device(s) whose kernel side has an address')
    .option('--tap <name>', 'TAP device name (with --taps N: its prefix, numbered from 0)', 'tap0')
    .option('--ip <cidr>', 'kernel-side address', '10.0.0.1/24')
    .option('--taps <n>', 'number of TAP devices; 2-8 share a bridge br0 that carries the address', '1')
    .option('--ipv6', 'keep IPv6 on (the kernel then sends router solicitations and MLD)')
    .action((name: string, opts: UpOptions) => up(name, opts));
  netns
    .command('down <name>')
    .description('remove namespace tapstack-NAME and its devices (nothing to do if it is gone)')
    .action((name: string) => down(name));
  netns
    .command('status [name]')
    .description('list the tapstack-* namespaces, or the devices and addresses of one')
    .action((name: string | undefined) => status(name));
}
