import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../shared/contracts/model-manifest.ts';
import { getModel } from '../models/registry.ts';
import { resourcesOf, synthesize, type Resources } from './synthesize.ts';

// A fine-tuned SD 1.5 arriving in the registry: nothing but its manifest is new.
const newcomer: ModelManifest = {
  ...getModel('sd15'),
  id: 'sd15-finetune',
  displayName: 'SD 1.5 fine-tune',
  artifacts: { prefix: 'models/sd15-finetune/' },
};

let before: Resources;
let after: Resources;

beforeAll(() => {
  const base = [getModel('sd15'), getModel('tiny')];
  before = resourcesOf(synthesize(base, { quick: true }).template);
  after = resourcesOf(synthesize([...base, newcomer], { quick: true }).template);
});

describe('adding a model to the registry', () => {
  it("adds the new model's queue, DLQ, task definition, service and fleet, and nothing else", () => {
    const added = Object.keys(after).filter((id) => !(id in before));
    expect(Object.keys(before).filter((id) => !(id in after))).toEqual([]);
    for (const id of added) expect(id).toMatch(/^(Queue|Fleet)sd15finetune/);
    const addedTypes = added.map((id) => after[id]!.Type);
    for (const type of ['AWS::SQS::Queue', 'AWS::ECS::TaskDefinition', 'AWS::ECS::Service', 'AWS::AutoScaling::AutoScalingGroup']) {
      expect(addedTypes).toContain(type);
    }
    expect(addedTypes.filter((t) => t === 'AWS::SQS::Queue')).toHaveLength(2);
  });

  it('changes existing resources only where they list every model', () => {
    const changed = Object.keys(before).filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
    const changedTypes = changed.map((id) => `${id.replace(/[A-F0-9]{8}$/, '')} ${before[id]!.Type}`).sort();
    expect(changedTypes).toEqual([
      // The API's environment (queue URLs) and its role (send to each queue).
      'ApiFunction AWS::Lambda::Function',
      'ApiFunctionRoleDefaultPolicy AWS::IAM::Policy',
      // One notification configuration for the bucket, one capacity-provider list for the cluster.
      'StorageBucketNotifications Custom::S3BucketNotifications',
      'WorkersCluster AWS::ECS::ClusterCapacityProviderAssociations',
    ]);
  });

  it("subscribes the new queue to uploads under the new model's prefix", () => {
    const [notifications] = Object.values(after).filter((r) => r.Type === 'Custom::S3BucketNotifications');
    const prefixes = JSON.stringify(notifications?.Properties);
    expect(prefixes).toContain('"Value":"uploads/sd15-finetune/"');
  });
});
