// A series from the list, as a reviewer has it: a whole thread saved as an mbox (cover
// letter, several revisions, replies carrying trailers) or a lore message-id. b4 does what
// it is made for (pick the newest revision or the one asked for, drop the cover letter and
// the replies, apply the trailers); the lab applies b4's result and records which series,
// revision and base it tested, so a reply can thread under it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execaSync } from 'execa';
import { UsageError } from './errors.ts';
import { paths } from './paths.ts';

export interface SeriesInfo {
  source: 'thread' | 'lore';
  file: string; // the mbox the reviewer gave (or b4 fetched)
  messageId: string; // of the cover letter, else of the first patch (no angle brackets)
  version: number; // the revision b4 took
  versions: number[]; // the revisions the thread holds
  subject: string; // the cover letter's (or first patch's) subject, as posted
  baseCommit: string | null; // the series' base-commit: line, when it has one
  patches: number;
  // The lead message's addressing, for a reply that goes where the thread goes.
  from: string;
  to: string;
  cc: string;
  date: string;
  references: string[];
}

export interface MboxMessage {
  subject: string;
  messageId: string | null;
  inReplyTo: string | null;
  from: string;
  to: string;
  cc: string;
  date: string;
  references: string[];
  body: string;
}

/** The messages of an mbox (From_ lines separate them), with the headers the lab reads. */
export function mboxMessages(text: string): MboxMessage[] {
  const parts = text.split(/^From \S+ [^\n]*\n/m).filter((p) => p.trim() !== '');
  return parts.map((p) => {
    const cut = p.search(/\n\r?\n/);
    const head = (cut < 0 ? p : p.slice(0, cut)).replace(/\r?\n[ \t]+/g, ' ');
    const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? null;
    const id = (v: string | null) => (v ? (/<([^>]+)>/.exec(v)?.[1] ?? v).trim() : null);
    const refs = [...(header('References') ?? '').matchAll(/<([^>]+)>/g)].map((m) => m[1]!);
    return {
      subject: header('Subject') ?? '',
      messageId: id(header('Message-Id')),
      inReplyTo: id(header('In-Reply-To')),
      from: header('From') ?? '',
      to: header('To') ?? '',
      cc: header('Cc') ?? '',
      date: header('Date') ?? '',
      references: refs,
      body: cut < 0 ? '' : p.slice(cut).trimStart(),
    };
  });
}

const PATCH_TAG = /^\s*\[[^\]]*PATCH[^\]]*\]/i;
/** The revision a subject names: [PATCH v3 1/4] → 3, [PATCH 1/4] → 1. */
export function subjectVersion(subject: string): number {
  const tag = /^\s*\[([^\]]*)\]/.exec(subject)?.[1] ?? '';
  const v = /\bv(\d+)\b/i.exec(tag);
  return v ? Number(v[1]) : 1;
}
const isCover = (s: string) => /^\s*\[[^\]]*\b0+\/\d+\]/.test(s);

/**
 * A thread, or a series with a cover letter, is for b4; a plain format-patch mbox (patches
 * only, one revision) goes to git am as it always did.
 */
export function isThread(text: string): boolean {
  const msgs = mboxMessages(text);
  if (msgs.some((m) => isCover(m.subject) || /^\s*re:/i.test(m.subject))) return true;
  return new Set(msgs.filter((m) => PATCH_TAG.test(m.subject)).map((m) => subjectVersion(m.subject))).size > 1;
}

function b4(args: string[], what: string, timeoutMs = 120_000): { stdout: string; stderr: string } {
  const r = execaSync('b4', args, { reject: false, timeout: timeoutMs, all: true });
  if ((r as { code?: string }).code === 'ENOENT') throw new UsageError('b4 is not installed', 'run `make deps` (Debian package b4)');
  if (r.exitCode !== 0 || r.timedOut) throw new UsageError(`${what}: b4 failed: ${String(r.all ?? r.stderr).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.exitCode}`}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * b4 am -t on a thread mbox: the revision asked for (default the newest), cover-letter
 * trailers applied to every patch. Returns the am-ready mbox b4 wrote and what the lab records.
 */
export function intakeThread(file: string, version: number | null, source: SeriesInfo['source'] = 'thread'): { mbx: string; info: SeriesInfo } {
  const text = fs.readFileSync(file, 'utf8');
  const msgs = mboxMessages(text);
  const versions = [...new Set(msgs.filter((m) => PATCH_TAG.test(m.subject) && !/^\s*re:/i.test(m.subject)).map((m) => subjectVersion(m.subject)))].sort((a, b) => a - b);
  if (versions.length === 0) throw new UsageError(`--patch ${file}: no [PATCH] message in this mbox`, 'save the thread with b4 mbox, or give format-patch files');
  const want = version ?? versions[versions.length - 1]!;
  if (!versions.includes(want)) throw new UsageError(`--series-version ${want}: the thread in ${file} holds revisions ${versions.map((v) => `v${v}`).join(', ')}`);
  const key = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
  const out = path.join(paths.cacheRoot, 'intake', `${key}-v${want}`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  b4(['--offline-mode', 'am', '-t', '-m', file, '-o', out, ...(version !== null ? ['-v', String(want)] : [])], `--patch ${file}`);
  const mbx = fs.readdirSync(out).find((f) => f.endsWith('.mbx'));
  if (!mbx) throw new UsageError(`--patch ${file}: b4 found no complete series of v${want} in the thread`, 'a revision with a missing patch cannot be applied; pick another with --series-version');
  const mbxPath = path.join(out, mbx);
  const taken = mboxMessages(fs.readFileSync(mbxPath, 'utf8'));
  const cover = msgs.find((m) => isCover(m.subject) && subjectVersion(m.subject) === want && !/^\s*re:/i.test(m.subject));
  const first = msgs.find((m) => PATCH_TAG.test(m.subject) && !isCover(m.subject) && subjectVersion(m.subject) === want && !/^\s*re:/i.test(m.subject));
  const lead = cover ?? first!;
  const baseText = cover?.body ?? taken.map((m) => m.body).join('\n');
  const baseCommit = /^base-commit:\s*([0-9a-f]{7,40})\s*$/m.exec(baseText)?.[1] ?? null;
  return {
    mbx: mbxPath,
    info: {
      source,
      file,
      messageId: lead.messageId ?? '',
      version: want,
      versions,
      subject: lead.subject.replace(/\s+/g, ' ').trim(),
      baseCommit,
      patches: taken.length,
      from: lead.from,
      to: lead.to,
      cc: lead.cc,
      date: lead.date,
      references: lead.references,
    },
  };
}

/** lore:<message-id>: b4 fetches the thread (network), then it is a thread like any other. */
export function intakeLore(spec: string, version: number | null): { mbx: string; info: SeriesInfo } {
  const msgid = spec.replace(/^lore:/, '').replace(/^<|>$/g, '').trim();
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(msgid)) throw new UsageError(`--patch ${spec}: '${msgid}' is not a message-id`, 'give lore:<local@domain>, as in a lore.kernel.org link');
  const dir = path.join(paths.cacheRoot, 'intake', `lore-${crypto.createHash('sha256').update(msgid).digest('hex').slice(0, 16)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  try {
    b4(['-q', 'mbox', '-o', dir, msgid], `--patch ${spec}`, 60_000);
  } catch {
    throw new UsageError(`--patch ${spec}: could not fetch the thread from lore.kernel.org (no network here?)`, `on a connected machine run \`b4 mbox ${msgid}\` and give the .mbx it writes: --patch <file>`);
  }
  const mbox = fs.readdirSync(dir).find((f) => f.endsWith('.mbx') || f.endsWith('.mbox'));
  if (!mbox) throw new UsageError(`--patch ${spec}: b4 fetched nothing for ${msgid}`);
  return intakeThread(path.join(dir, mbox), version, 'lore');
}
