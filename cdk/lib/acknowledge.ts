import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Records why a cdk-nag finding is accepted on this construct and everything below it. */
export function acknowledge(scope: IConstruct, reason: string, ...findingIds: string[]): void {
  Validations.of(scope).acknowledge(...findingIds.map((id) => ({ id, reason })));
}

/** How cdk-nag spells a reference inside a finding id: "<Logical1234>" for a Ref, "<Logical1234.Arn>" for an attribute. */
export function cfnReference(resource: IConstruct, attribute?: string): string {
  const element = resource.node.defaultChild as CfnElement;
  const logicalId = Stack.of(element).getLogicalId(element);
  return attribute ? `<${logicalId}.${attribute}>` : `<${logicalId}>`;
}
