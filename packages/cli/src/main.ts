/**
 * The `tributary` command. Until the broker lands (issue 5), `start` reports the version and
 * the protocol surface this build carries, then exits; see docs/architecture.md.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const usage = `usage: tributary <command>

commands:
  start        start a broker (this build: prints the version; the broker lands with issue 5)
  version      print the version
  help         this text`;

export function run(argv: string[], out: (line: string) => void = console.log): number {
  const [cmd] = argv;
  switch (cmd) {
    case 'version':
    case '--version':
    case '-v':
      out(`tributary ${pkg.version}`);
      return 0;
    case 'start':
      out(`tributary ${pkg.version}`);
      out('the broker is not part of this build yet; only the protocol package exists');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(usage);
      return 0;
    default:
      out(`unknown command "${cmd}"\n${usage}`);
      return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = run(process.argv.slice(2));
}
