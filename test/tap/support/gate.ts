import { existsSync } from 'node:fs';
import { describe } from 'vitest';

/**
 * The tap suite needs root (CAP_NET_ADMIN) and /dev/net/tun. Without them it says so
 * in one line and skips; with TAPSTACK_REQUIRE_TAP=1 (as in CI) it fails instead.
 */
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasTun = existsSync('/dev/net/tun');
export const tapAvailable = isRoot && hasTun;

let announced = false;
function announce(): void {
  if (announced) return;
  announced = true;
  const why = !isRoot ? 'not running as root (CAP_NET_ADMIN needed)' : '/dev/net/tun is missing';
  if (process.env.TAPSTACK_REQUIRE_TAP === '1') {
    throw new Error(`tap suite required (TAPSTACK_REQUIRE_TAP=1) but ${why}`);
  }
  console.log(`tap suite skipped: ${why}`);
}

/** `describe` for tests that open TAP devices: skips (or fails in CI) without root. */
export const describeTap: typeof describe = ((name: string, fn: () => void) => {
  if (!tapAvailable) {
    announce();
    return describe.skip(name, fn);
  }
  return describe(name, fn);
}) as typeof describe;
