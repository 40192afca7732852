/**
 * API keys as SHA-256 hashes only; a key's id (the owner of its jobs) is the start of its hash,
 * so logs and records never hold a usable key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export class ApiKeyRing {
  private readonly hashes: Buffer[];

  constructor(hashes: readonly string[]) {
    if (hashes.length === 0) throw new Error('at least one API key hash is needed');
    for (const hash of hashes) if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error('API key hashes must be 64 lowercase hex characters (SHA-256)');
    this.hashes = hashes.map((h) => Buffer.from(h, 'hex'));
  }

  static fromKeys(keys: readonly string[]): ApiKeyRing {
    return new ApiKeyRing(keys.map(hashApiKey));
  }

  /** The key id for a presented key, or undefined if it is not one of ours. */
  identify(key: string): string | undefined {
    const hash = createHash('sha256').update(key).digest();
    const match = this.hashes.find((h) => timingSafeEqual(h, hash));
    return match ? match.toString('hex').slice(0, 16) : undefined;
  }
}

export function generateApiKey(): string {
  return `pk_${randomBytes(24).toString('base64url')}`;
}
