/** Batch records at batches/{batchId}.json. */
import { Batch, batchKey } from '../contracts/job-batch.ts';
import { JsonRecordStore } from './json-record-store.ts';
import type { ObjectStore } from './object-store.ts';

export class BatchStore extends JsonRecordStore<Batch> {
  constructor(store: ObjectStore) {
    super(store, Batch, batchKey);
  }
}
