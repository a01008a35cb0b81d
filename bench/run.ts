/**
 * `pnpm bench`: runs every micro-benchmark suite in one process and writes their JSON under
 * bench/results/. Pass --quick for a short run.
 */
const suites = [
  { name: 'crc32c', module: './crc32c/crc32c.bench.ts' },
  { name: 'protocol records', module: './protocol/records.bench.ts' },
  { name: 'protocol wire', module: './protocol/wire.bench.ts' },
  { name: 'wal', module: './wal/run.ts' },
];

for (const s of suites) {
  console.log(`\n### ${s.name}`);
  const { execFileSync } = await import('node:child_process');
  const file = new URL(s.module, import.meta.url).pathname;
  execFileSync(process.execPath, ['--import', 'tsx', file, ...process.argv.slice(2)], { stdio: 'inherit' });
}
