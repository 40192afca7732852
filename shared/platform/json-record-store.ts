/**
 * Schema-checked JSON records on an ObjectStore, changed only by conditional writes: create only
 * if absent, replace only the version that was read (by ETag). `update` retries a pure change
 * function on conflict, so concurrent writers never lose each other's changes.
 */
import type { z } from 'zod';
import { PreconditionFailedError, type ObjectStore } from './object-store.ts';

export interface Versioned<T> {
  value: T;
  etag: string;
}

/**
 * A stored record that is not valid JSON or does not match its schema. `owner` is the record's
 * owner field when the JSON still names one, so an API can answer its owner and hide it from others.
 */
export class UnreadableRecordError extends Error {
  override name = 'UnreadableRecordError';
  constructor(
    readonly key: string,
    readonly reason: string,
    readonly owner: string | undefined,
  ) {
    super(`the record '${key}' cannot be read: ${reason}`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JsonRecordStore<T> {
  constructor(
    protected readonly store: ObjectStore,
    private readonly schema: z.ZodType<T>,
    private readonly keyOf: (id: string) => string,
  ) {}

  /** Writes the record unless one exists; returns the stored record and whether this call wrote it. */
  async createIfAbsent(id: string, value: T): Promise<{ created: boolean; record: Versioned<T> }> {
    try {
      const { etag } = await this.store.put(this.keyOf(id), this.encode(value), { contentType: 'application/json', condition: { ifNoneMatch: '*' } });
      return { created: true, record: { value, etag } };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const existing = await this.get(id);
      if (!existing) throw error;
      return { created: false, record: existing };
    }
  }

  async get(id: string): Promise<Versioned<T> | undefined> {
    const object = await this.store.get(this.keyOf(id));
    if (!object) return undefined;
    return { value: this.decode(this.keyOf(id), object.body), etag: object.etag };
  }

  private decode(key: string, body: Uint8Array): T {
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(body));
    } catch (error) {
      throw new UnreadableRecordError(key, `not JSON (${(error as Error).message})`, undefined);
    }
    const parsed = this.schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const owner = typeof raw === 'object' && raw !== null && typeof (raw as { owner?: unknown }).owner === 'string' ? (raw as { owner: string }).owner : undefined;
    const problems = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new UnreadableRecordError(key, `does not match its schema (${problems})`, owner);
  }

  /** Replaces exactly the version read; throws PreconditionFailedError if it changed since. */
  async replace(id: string, current: Versioned<T>, next: T): Promise<Versioned<T>> {
    const { etag } = await this.store.put(this.keyOf(id), this.encode(next), { contentType: 'application/json', condition: { ifMatch: current.etag } });
    return { value: next, etag };
  }

  /**
   * Applies change to the latest version until a write wins. change returns undefined to leave
   * the record as it is; the result is then the unchanged record. Undefined when there is no record.
   */
  async update(id: string, change: (current: T) => T | undefined, maxAttempts = 20): Promise<{ changed: boolean; record: Versioned<T> } | undefined> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = await this.get(id);
      if (!current) return undefined;
      const next = change(current.value);
      if (next === undefined) return { changed: false, record: current };
      try {
        return { changed: true, record: await this.replace(id, current, next) };
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    throw new Error(`record '${this.keyOf(id)}' kept changing under ${maxAttempts} update attempts`);
  }

  private encode(value: T): Uint8Array {
    return encoder.encode(JSON.stringify(this.schema.parse(value)));
  }
}
