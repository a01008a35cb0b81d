import { describe, expect, it } from 'vitest';
import { crc32cImplementation, loadNativeAddon, nativeLoadError } from '../src/index.ts';

// CI must not silently fall back: unless TRIBUTARY_CRC32C forces another implementation,
// this package's own addon has to build (pnpm install runs node-gyp) and load.
const forced = process.env.TRIBUTARY_CRC32C;
const expectNative = forced === undefined || forced === '' || forced === 'native';

describe('crc32c native addon', () => {
  it.runIf(expectNative)('loads and is the active implementation', () => {
    const addon = loadNativeAddon();
    expect(
      addon,
      `addon did not load: ${nativeLoadError()}; run \`pnpm --filter @tributary/crc32c build\``,
    ).not.toBe(null);
    expect(crc32cImplementation()).toBe('tributary-native');
  });

  it.runIf(expectNative && process.arch === 'x64')('uses a hardware engine on x86-64 with SSE4.2', () => {
    const addon = loadNativeAddon();
    expect(addon?.engines).toContain('table');
    // Every x86-64 CPU this runs on in practice has SSE4.2 and PCLMULQDQ.
    expect(['3way', 'avx512-fold']).toContain(addon?.engine);
  });
});
