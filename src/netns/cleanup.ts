/**
 * The last resort: namespaces this process made and has not removed yet are removed
 * when it exits, and on SIGINT/SIGTERM when nobody else handles the signal, so that
 * a crashed test or an interrupted benchmark leaves nothing behind.
 *
 * A program that handles the signals itself (the demo unwinds through its `finally`
 * blocks) keeps that job; we then only act in 'exit'. Without another handler we
 * remove the namespaces and die of the signal as Node would have.
 */

const live = new Map<string, () => void>(); // namespace -> its synchronous removal
let hooked = false;

/** Remember `name` until `forget(name)`; `removeSync` must not throw. */
export function track(name: string, removeSync: () => void): void {
  live.set(name, removeSync);
  if (!hooked) {
    hooked = true;
    process.once('exit', removeAll);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}

export function forget(name: string): void {
  live.delete(name);
}

function removeAll(): void {
  for (const remove of [...live.values()]) remove();
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the program handles it
  removeAll();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  hooked = false;
  process.kill(process.pid, signal);
}
