/** Emits generated/errors.ts from the hand-written scripts/errors.json. */
import { readFileSync } from 'node:fs';
import { HEADER } from './emit-message.ts';

export interface ErrorFact {
  code: number;
  name: string;
  retriable: boolean;
}

/** Reads and validates errors.json: unique codes and names, sorted by code. */
export function loadErrors(path: string): ErrorFact[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as ErrorFact[];
  const codes = new Set<number>();
  const names = new Set<string>();
  for (const e of raw) {
    if (!Number.isInteger(e.code) || !/^[A-Z][A-Z0-9_]*$/.test(e.name) || typeof e.retriable !== 'boolean') {
      throw new Error(`errors.json: bad entry ${JSON.stringify(e)}`);
    }
    if (codes.has(e.code) || names.has(e.name)) throw new Error(`errors.json: duplicate ${e.code} ${e.name}`);
    codes.add(e.code);
    names.add(e.name);
  }
  return [...raw].sort((a, b) => a.code - b.code);
}

export function emitErrors(errors: ErrorFact[]): string {
  const consts = errors.map((e) => `  ${e.name}: ${e.code},`);
  const infos = errors.map((e) => `  { code: ${e.code}, name: '${e.name}', retriable: ${e.retriable} },`);
  return `${HEADER}

/** Kafka error codes by name. */
export const ErrorCode = {
${consts.join('\n')}
} as const;

/** The name of a Kafka error code, e.g. 'NOT_LEADER_OR_FOLLOWER'. */
export type ErrorCodeName = keyof typeof ErrorCode;

/** One Kafka error code and whether a client may retry the failed request. */
export interface ErrorInfo {
  readonly code: number;
  readonly name: string;
  readonly retriable: boolean;
}

/** Every known error code, sorted by code. */
export const errorInfos: readonly ErrorInfo[] = [
${infos.join('\n')}
];

const byCode: ReadonlyMap<number, ErrorInfo> = new Map(errorInfos.map((e): [number, ErrorInfo] => [e.code, e]));

/** The error with this code, or undefined for a code Kafka has not defined (as of these definitions). */
export function errorByCode(code: number): ErrorInfo | undefined {
  return byCode.get(code);
}
`;
}
