/**
 * Whether a test may skip for lack of an external tool (Kamailio, SIPp, the native addon, rtpengine,
 * libsrtp2, Chromium) or must fail.
 *
 * `.ci/run` exports RTPBRIDGE_TEST_REQUIRE_ALL=1 before `npm test`: there every tool is installed (or
 * built) by the script itself, so a missing one is a broken CI image or build, and the tests that need
 * it fail. Anywhere else (a developer's machine without Chromium, say) they skip with a message that
 * says what to install. Nothing else (CI, GITHUB_ACTIONS, ...) is consulted.
 */
import { existsSync } from 'node:fs';
import type { Test } from 'tap';

/** The environment variable `.ci/run` sets to turn a missing tool from a skip into a failure. */
export const REQUIRE_ALL_ENV = 'RTPBRIDGE_TEST_REQUIRE_ALL';

/** True when every tool must be present (`RTPBRIDGE_TEST_REQUIRE_ALL=1`, as `.ci/run` runs the suite). */
export function requireAll(): boolean {
  return process.env[REQUIRE_ALL_ENV] === '1';
}

/**
 * Call first thing in a test (or on the file's root `t`) that needs `name`. Returns true when the tool
 * is `present` and the test should go on. Otherwise the test ends: under RTPBRIDGE_TEST_REQUIRE_ALL=1 it
 * fails, elsewhere it is skipped (`t.plan(0, ...)`, so call this before any assertion) with `install`
 * as the hint. Either way the caller returns at once when this returns false.
 */
export function requireTool(t: Test, name: string, present: boolean, install: string): boolean {
  if (present) return true;
  if (requireAll()) t.fail(`${name} is missing but ${REQUIRE_ALL_ENV}=1 (.ci/run) requires it: ${install}`);
  else t.plan(0, `${name} is missing, skipped: ${install}`);
  return false;
}

/** The native addon as `npm ci` builds it (node-gyp, at install time). */
export function nativeAddonBuilt(): boolean {
  return existsSync(new URL('../../build/Release/rtpbridge_native.node', import.meta.url));
}
