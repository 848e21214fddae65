/**
 * The method's search for the highest passing load: steps up by `step` from `start` until a trial
 * fails (or `cap` passes), then `refine` bisection steps between the last pass and the first failure.
 */
import type { TrialResult } from './trial.js';

export interface SearchPlan {
  start: number;
  step: number;
  refine: number;
  cap: number;
}

export interface SearchResult {
  /** Highest passing load, 0 if none passed. */
  value: number;
  /** The cap passed, so the relay's real limit is higher. */
  atCap: boolean;
  /** The failure that bounds the result happened with the generator saturated: a lower bound only. */
  generatorBound: boolean;
  best: TrialResult | undefined;
  trials: TrialResult[];
}

/** Going down from a failing start: at most this many steps (80 kpps / 1.25^12 = 5.5 kpps), so a dead relay ends the search. */
const MAX_STEPS_DOWN = 12;
/** Going up: enough steps to go from any start to the cap; bounds the loop whatever the relay does. */
const MAX_STEPS_UP = 40;

export async function searchMax(plan: SearchPlan, measure: (load: number) => Promise<TrialResult>): Promise<SearchResult> {
  const trials: TrialResult[] = [];
  let best: TrialResult | undefined;
  let lowestFail: TrialResult | undefined;
  let pass = 0;
  let fail = Infinity;
  const run = async (load: number): Promise<boolean> => {
    const r = await measure(load);
    trials.push(r);
    if (r.passed) {
      pass = load;
      best = r;
    } else {
      fail = load;
      lowestFail = r;
    }
    return r.passed;
  };

  let load = Math.min(plan.start, plan.cap);
  if (await run(load)) {
    for (let i = 0; i < MAX_STEPS_UP && load < plan.cap; i++) {
      load = Math.min(plan.cap, Math.round(load * plan.step));
      if (!(await run(load))) break;
    }
  } else {
    for (let i = 0; i < MAX_STEPS_DOWN; i++) {
      load = Math.round(load / plan.step);
      if (await run(load)) break;
    }
  }
  if (pass > 0 && fail !== Infinity) {
    for (let i = 0; i < plan.refine; i++) {
      const mid = Math.round((pass + fail) / 2);
      if (mid === pass || mid === fail) break;
      await run(mid);
    }
  }
  return {
    value: pass,
    atCap: pass >= plan.cap,
    generatorBound: lowestFail?.generatorBound ?? false,
    best,
    trials,
  };
}
