// A zod model of the KCIDB v5.3 subset the lab emits, written from the constraints KCIDB
// documents (origin and id patterns, the test path, the status enum, patchset_hash, the
// bounded log excerpt, no unknown keys). Used by the unit and the integration tests.
import { z } from 'zod';

const ID = z.string().regex(/^[a-z0-9_]+:[^\u0000]*$/);
const ORIGIN = z.string().regex(/^[a-z0-9_]+$/);
const STATUS = z.enum(['FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP']);
const EXCERPT = z.string().max(16384);
const misc = z.record(z.string(), z.unknown());
export const schema = z
  .object({
    version: z.object({ major: z.literal(5), minor: z.number().int() }).strict(),
    checkouts: z.array(
      z.object({ id: ID, origin: ORIGIN, tree_name: z.string().optional(), git_commit_name: z.string().optional(), patchset_hash: z.string().regex(/^$|^[0-9a-f]{64}$/).optional(), start_time: z.string().datetime().optional(), valid: z.boolean().optional(), log_excerpt: EXCERPT.optional(), misc: misc.optional() }).strict(),
    ),
    builds: z.array(
      z.object({ id: ID, origin: ORIGIN, checkout_id: ID, architecture: z.string().optional(), compiler: z.string().optional(), config_name: z.string().optional(), duration: z.number().optional(), status: STATUS.optional(), log_excerpt: EXCERPT.optional(), misc: misc.optional() }).strict(),
    ),
    tests: z.array(
      z
        .object({
          id: ID, origin: ORIGIN, build_id: ID, path: z.string().regex(/^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$/).optional(),
          environment: z.object({ comment: z.string().optional(), misc: misc.optional() }).strict().optional(), status: STATUS.optional(), duration: z.number().optional(), log_excerpt: EXCERPT.optional(), misc: misc.optional(),
        })
        .strict(),
    ),
    issues: z.array(
      z.object({ id: ID, version: z.number().int().min(0), origin: ORIGIN, report_subject: z.string().optional(), comment: z.string().optional(), culprit: z.object({ code: z.boolean(), tool: z.boolean(), harness: z.boolean() }).partial().strict().optional(), misc: misc.optional() }).strict(),
    ),
    incidents: z.array(
      z.object({ id: ID, origin: ORIGIN, issue_id: ID, issue_version: z.number().int(), test_id: ID.optional(), build_id: ID.optional(), present: z.boolean().optional(), comment: z.string().optional() }).strict(),
    ),
  })
  .partial({ checkouts: true, builds: true, tests: true, issues: true, incidents: true })
  .strict();
export const validate = (r: unknown) => {
  const v = schema.safeParse(r);
  validate.errors = v.success ? null : v.error.issues;
  return v.success;
};
validate.errors = null as unknown;
