import type { EndpointLearning } from '../shared/vocabulary.js';
import type { LearningPolicy } from './types.js';

const policies = new Map<string, LearningPolicy>();

/** Learning policies are few and immutable: one shared object per combination, not one per side. */
export function learningPolicy(mode: EndpointLearning, asymmetric: boolean, strictSource: boolean): LearningPolicy {
  const key = `${mode}|${asymmetric}|${strictSource}`;
  let policy = policies.get(key);
  if (!policy) policies.set(key, (policy = Object.freeze({ mode, asymmetric, strictSource })));
  return policy;
}
