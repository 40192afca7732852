import { describe, expect, it } from 'vitest';
import { jobMessageBody, parseQueueMessage } from './queue-message.ts';

const s3Event = (key: string, eventName = 'ObjectCreated:Post'): string =>
  JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName, s3: { bucket: { name: 'b' }, object: { key, size: 3 } } }] });

describe('parseQueueMessage', () => {
  it('reads our own job message', () => {
    expect(parseQueueMessage(jobMessageBody('job-abc123'))).toEqual({ kind: 'work', items: [{ jobId: 'job-abc123' }] });
  });

  it('reads an S3 ObjectCreated event and decodes its form-encoded key', () => {
    expect(parseQueueMessage(s3Event('uploads/tiny/job-a%2Bb+c/input'))).toEqual({
      kind: 'work',
      items: [{ jobId: 'job-a+b c', uploadedKey: 'uploads/tiny/job-a+b c/input' }],
    });
  });

  it('ignores events other than ObjectCreated and recognises the S3 test event', () => {
    expect(parseQueueMessage(s3Event('uploads/tiny/j/input', 'ObjectRemoved:Delete'))).toEqual({ kind: 'work', items: [] });
    expect(parseQueueMessage(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' }))).toEqual({ kind: 'test-event' });
  });

  it('names what is wrong with anything else', () => {
    expect(parseQueueMessage('not json')).toEqual({ kind: 'invalid', reason: 'message body is not JSON' });
    expect(parseQueueMessage('{"kind":"other"}')).toMatchObject({ kind: 'invalid' });
    expect(parseQueueMessage(s3Event('elsewhere/file.png'))).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('elsewhere/file.png') });
  });
});
