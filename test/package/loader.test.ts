import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, TapLink, connect, createServer } from '../../src/index.js';

/**
 * The TAP addon loads lazily: where it cannot load, everything but TapLink still works,
 * and TapLink.open says what to do. node-gyp-build looks for the addon in the folder
 * named by TAPSTACK_PREBUILD when that is set (instead of the package's own), so an
 * empty folder plays a platform without a prebuild and without a compiler.
 */
describe('the lazy TAP addon loader', () => {
  const saved = process.env.TAPSTACK_PREBUILD;
  afterEach(() => {
    if (saved === undefined) delete process.env.TAPSTACK_PREBUILD;
    else process.env.TAPSTACK_PREBUILD = saved;
  });

  it('leaves the memory link working and makes TapLink.open say how to build the addon', async () => {
    process.env.TAPSTACK_PREBUILD = '/nonexistent/tapstack-prebuilds';

    const net = new MemoryNetwork();
    createServer(net.host('10.0.0.1'), 7, (socket) => socket.pipe(socket));
    const socket = connect(net.host('10.0.0.2'), { host: '10.0.0.1', port: 7 });
    socket.end('still works');
    let echoed = '';
    for await (const chunk of socket) echoed += String(chunk);
    await net.close();
    expect(echoed).toBe('still works');

    let error: Error | undefined;
    try {
      TapLink.open({ name: 'tapstack-never' });
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(/^the TAP addon did not load \(/);
    expect(error?.message).toContain('apt-get install build-essential python3');
    expect(error?.message).toContain('`npx node-gyp rebuild`');
    expect(error?.cause).toBeInstanceOf(Error);
  });
});
