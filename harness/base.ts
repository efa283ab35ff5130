// The kernel base a run builds on, as data (b4's base-commit idea, for a Debian source
// package): each patch set pins the linux-source-6.12 version it is written against and
// that tarball's sha256 in its base.json; kernel-patches/base.json is the pin of
// --patch none (and of user series that pin nothing). Sets that stack must pin the same
// base. --base <version>|latest|installed overrides the pin for one run.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.ts';
import { paths } from './paths.ts';

export interface BasePin {
  package: string; // Debian source package, linux-source-6.12
  version: string; // Debian version, e.g. 6.12.118-1~deb12u1
  sha256: string; // of the kernel tarball inside the .deb
  file: string; // where the pin is written, relative to the repo when inside it
}

/** What a run asked for: the pin, or --base's override of it. */
export type BaseWant = { kind: 'pin' } | { kind: 'latest' } | { kind: 'installed' } | { kind: 'version'; version: string };

export interface BaseRequest {
  pin: BasePin;
  want: BaseWant;
}

const pinSchema = z
  .object({
    package: z.string().regex(/^linux-source-[0-9.]+$/, 'a Debian linux-source package, e.g. linux-source-6.12'),
    version: z.string().regex(/^[0-9][A-Za-z0-9.+~-]*$/, 'a Debian version, e.g. 6.12.118-1~deb12u1'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
  })
  .strict();

export const DEFAULT_PIN_FILE = path.join(paths.patchSets, 'base.json');

function shown(file: string): string {
  const rel = path.relative(paths.repoRoot, file);
  return rel.startsWith('..') ? file : rel;
}

export function readPin(file: string): BasePin {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${shown(file)}: not a readable JSON base pin: ${(err as Error).message}`);
  }
  const p = pinSchema.safeParse(raw);
  if (!p.success) {
    const issue = p.error.issues[0]!;
    throw new UsageError(`${shown(file)}: ${issue.path.join('.') || '(top)'}: ${issue.message}`, 'a pin is {"package": "linux-source-6.12", "version": "<debian version>", "sha256": "<tarball sha256>"}');
  }
  return { ...p.data, file: shown(file) };
}

/** The upstream kernel version a Debian version builds: 6.12.118-1~deb12u1 → 6.12.118. */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** --base's argument, checked before anything runs. */
export function parseBaseOption(v: string): BaseWant {
  if (v === 'latest' || v === 'installed') return { kind: v };
  if (v === 'pin' || v === 'pinned') return { kind: 'pin' };
  if (!/^[0-9][A-Za-z0-9.+~:-]*$/.test(v)) {
    throw new UsageError(`--base '${v}' is not a Debian version`, 'give e.g. --base 6.12.117-1~deb12u1 (apt-cache madison linux-source-6.12), --base latest or --base installed');
  }
  return { kind: 'version', version: v };
}

/**
 * The one pin a run's sets agree on: sets without a pin (user series) follow the others,
 * and with no pin at all the default applies. Two different pins are a usage error.
 */
export function commonPin(sets: { name: string; base: BasePin | null }[]): BasePin {
  const pinned = sets.filter((s): s is { name: string; base: BasePin } => s.base !== null);
  const distinct = [...new Map(pinned.map((s) => [`${s.base.package}=${s.base.version}/${s.base.sha256}`, s])).values()];
  if (distinct.length > 1) {
    const which = pinned.map((s) => `${s.name} (${s.base.version})`).join(', ');
    throw new UsageError(`the sets are written against different bases: ${which}`, 'rebase them onto one base (kernel-patches/<set>/base.json), or run them separately');
  }
  return distinct[0]?.base ?? readPin(DEFAULT_PIN_FILE);
}
