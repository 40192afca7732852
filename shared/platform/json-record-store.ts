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
    return { value: this.schema.parse(JSON.parse(decoder.decode(object.body))), etag: object.etag };
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
