/**
 * Generates packages/protocol/src/generated/ from Kafka's JSON message definitions.
 *
 * Usage: tsx scripts/generate.ts [messageDir]
 * The directory defaults to $KAFKA_MESSAGE_DIR, else ../shared/kafka-protocol/message beside the
 * repository (where the project's shared design folder lives).
 * Output is deterministic: running it twice gives byte-identical files.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitApi, pairApis } from './gen/emit-api.ts';
import { emitErrors, loadErrors } from './gen/emit-errors.ts';
import { emitMessage, HEADER, moduleName } from './gen/emit-message.ts';
import { emitSchema } from './gen/emit-schema.ts';
import { loadMessages } from './gen/model.ts';
import { RUNTIME_SOURCE } from './gen/runtime.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_DIR = fileURLToPath(new URL('../../../../shared/kafka-protocol/message', import.meta.url));

function main(): void {
  const dir = resolve(process.argv[2] ?? process.env.KAFKA_MESSAGE_DIR ?? DEFAULT_DIR);
  const outDir = join(here, '..', 'src', 'generated');
  const messages = loadMessages(dir);
  const pairs = pairApis(messages);

  const files = new Map<string, string>();
  for (const m of messages) files.set(`messages/${moduleName(m)}.ts`, emitMessage(m));
  files.set('runtime.ts', `${HEADER}\n${RUNTIME_SOURCE}`);
  files.set('api.ts', emitApi(pairs));
  files.set('schema.ts', emitSchema(messages));
  files.set('errors.ts', emitErrors(loadErrors(join(here, 'errors.json'))));
  const modules = [...files.keys()].filter((f) => f.startsWith('messages/'));
  files.set(
    'index.ts',
    `${HEADER}\n${['api.ts', 'errors.ts', 'schema.ts', ...modules]
      .map((f) => `export * from './${f}';`)
      .join('\n')}\nexport { ZERO_UUID } from './runtime.ts';\n`,
  );
  checkUniqueExports(files);

  rmSync(join(outDir, 'messages'), { recursive: true, force: true });
  for (const f of readdirSync(outDir, { withFileTypes: true })) {
    if (f.isFile() && f.name.endsWith('.ts')) rmSync(join(outDir, f.name));
  }
  mkdirSync(join(outDir, 'messages'), { recursive: true });
  for (const [name, text] of files) writeFileSync(join(outDir, name), text);
  console.log(
    `generated ${files.size} files from ${messages.length} definitions (${pairs.length} apis) in ${dir}`,
  );
}

/** index.ts re-exports everything, so an exported name may appear in one module only. */
function checkUniqueExports(files: Map<string, string>): void {
  const seen = new Map<string, string>();
  for (const [file, text] of files) {
    if (file === 'index.ts') continue;
    for (const m of text.matchAll(/^export (?:function|const|interface|type) (\w+)/gm)) {
      const other = seen.get(m[1]);
      if (other !== undefined) throw new Error(`export ${m[1]} in both ${other} and ${file}`);
      seen.set(m[1], file);
    }
  }
}

main();
