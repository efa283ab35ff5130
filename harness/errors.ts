// Errors are typed by whose fault they are (LAVA's split): the exit code says which.
export const EXIT = { pass: 0, fail: 1, usage: 2, infra: 3 } as const;

/** Bad command line or input (unknown set, patch that does not apply, dropped config symbol). Nothing is built. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The lab itself failed: a tool is missing, QEMU died, the disk is full. Not the kernel's fault. */
export class InfraError extends Error {
  readonly exitCode = EXIT.infra;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'InfraError';
  }
}

/**
 * The patch under test is at fault, not the input and not the lab: it does not compile
 * (tuxmake's "a failed build is a FAIL"). The run's status is fail, exit 1.
 */
export class PatchFailure extends Error {
  readonly exitCode = EXIT.fail;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'PatchFailure';
  }
}

/** A build of the patched tree failed in its code: what make said, and where the log is. */
export class BuildFailure extends PatchFailure {
  constructor(
    readonly what: string,
    readonly makeExit: number | null,
    readonly errorLine: string | null, // the log's first compiler/linker error (file:line: error: ...)
    readonly logFile: string,
  ) {
    super(`${what} failed (exit ${makeExit}): ${errorLine ?? 'no error line found'}; see ${logFile}`);
    this.name = 'BuildFailure';
  }
}

export function oneLine(err: unknown): string {
  if (err instanceof UsageError || err instanceof InfraError || err instanceof PatchFailure) {
    return err.hint ? `${err.message} (${err.hint})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
