/** The generator's parsing rules, and that the committed output matches a fresh generation. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emitMessage, moduleName } from '../../scripts/gen/emit-message.ts';
import { loadMessages, parseMessage, stripComments } from '../../scripts/gen/model.ts';
import { defaultLiteral } from '../../scripts/gen/types.ts';
import { cond, parseRange } from '../../scripts/gen/versions.ts';

const DEFAULT_DIR =
  process.env.KAFKA_MESSAGE_DIR ??
  fileURLToPath(new URL('../../../../../shared/kafka-protocol/message', import.meta.url));
const GENERATED = join(import.meta.dirname, '../../src/generated');

describe('generator rules', () => {
  it('strips comments but not // inside strings', () => {
    const text = '{ "a": "x // y", // gone\n "b": 1 /* gone */ }';
    expect(JSON.parse(stripComments(text))).toEqual({ a: 'x // y', b: 1 });
  });

  it('parses version ranges and builds minimal conditions', () => {
    expect(parseRange('3+', 'f')).toEqual({ min: 3, max: 0x7fff });
    expect(parseRange('1-4', 'f')).toEqual({ min: 1, max: 4 });
    expect(parseRange('2', 'f')).toEqual({ min: 2, max: 2 });
    expect(parseRange('none', 'f')).toBeNull();
    expect(() => parseRange('4-1', 'f')).toThrow();
    const ctx = { min: 0, max: 11 };
    expect(cond(parseRange('0+', 'f'), ctx)).toBe('true');
    expect(cond(parseRange('3+', 'f'), ctx)).toBe('v >= 3');
    expect(cond(parseRange('0-2', 'f'), ctx)).toBe('v <= 2');
    expect(cond(parseRange('8-10', 'f'), ctx)).toBe('v >= 8 && v <= 10');
    expect(cond(parseRange('12+', 'f'), ctx)).toBe('false');
  });

  it('reads defaults: hex, negative, null, bools, int64', () => {
    const msg = parseMessage('T.json', {
      name: 'TRequest',
      type: 'request',
      apiKey: 999,
      validVersions: '0-1',
      flexibleVersions: 'none',
      fields: [
        { name: 'A', type: 'int32', versions: '0+', default: '0x7fffffff' },
        { name: 'B', type: 'int64', versions: '0+', default: '-1' },
        { name: 'C', type: 'string', versions: '0+', nullableVersions: '0+', default: 'null' },
        { name: 'D', type: 'bool', versions: '1+', default: 'true' },
        { name: 'E', type: 'int16', versions: '0+', default: '-0x10' },
      ],
    });
    expect(msg.root.fields.map(defaultLiteral)).toEqual(['2147483647', '-1n', 'null', 'true', '-16']);
    expect(() =>
      parseMessage('T.json', {
        name: 'TRequest',
        type: 'request',
        validVersions: '0',
        flexibleVersions: 'none',
        fields: [{ name: 'A', type: 'int8', versions: '0+', default: '300' }],
      }).root.fields.map(defaultLiteral),
    ).toThrow();
  });

  it('names modules in kebab case', () => {
    const m = parseMessage('K.json', {
      name: 'KRaftVersionRecord',
      type: 'data',
      validVersions: '0',
      flexibleVersions: '0+',
      fields: [],
    });
    expect(moduleName(m)).toBe('k-raft-version-record');
  });
});

describe('generated output', () => {
  it('has the Kafka message definitions to compare against', () => {
    expect(existsSync(DEFAULT_DIR), `missing ${DEFAULT_DIR}`).toBe(true);
  });

  const messages = loadMessages(DEFAULT_DIR);

  it('covers every definition, 88 request/response pairs and both headers', () => {
    const byType = (t: string) => messages.filter((m) => m.type === t).length;
    expect(byType('request')).toBeGreaterThanOrEqual(88);
    expect(byType('response')).toBe(byType('request'));
    expect(byType('header')).toBe(2);
  });

  it('is deterministic and matches the committed files', () => {
    for (const m of messages) {
      const text = emitMessage(m);
      expect(emitMessage(m)).toBe(text);
      const committed = readFileSync(join(GENERATED, 'messages', `${moduleName(m)}.ts`), 'utf8');
      expect(committed, `${m.name}: run pnpm gen`).toBe(text);
    }
  });
});
