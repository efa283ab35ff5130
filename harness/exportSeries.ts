// export-series: one of our sets as the mbox a developer would post: the cover letter
// (kernel-patches/<set>/cover-letter) as [PATCH 0/N], then the set's format-patch files,
// threaded under it (Message-Id / In-Reply-To, as `git format-patch --thread --cover-letter`
// writes them), with a shortlog, a diffstat and `base-commit:`. `b4 am` takes it as it is;
// `git am --empty=drop` does too (the cover letter has no diff), and so does `--patch`.
//
// The base is Debian's linux-source-6.12 tarball, not an upstream commit, so base-commit
// names a commit anyone can make from the pinned tarball: its tree, committed with fixed
// author, date and message. Same pin, same set: the same bytes, any day.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPin } from './base.ts';
import { loadPatchSet } from './catalog.ts';
import { PatchFailure, UsageError } from './errors.ts';
import { mustRun, run, type Recorder } from './exec.ts';
import { paths } from './paths.ts';
import { sourceStage } from './stages/source.ts';

export const BASE_COMMIT_ENV = {
  GIT_AUTHOR_NAME: 'kernel-lab',
  GIT_AUTHOR_EMAIL: 'kernel-lab@example.com',
  GIT_AUTHOR_DATE: '2000-01-01T00:00:00+0000',
  GIT_COMMITTER_NAME: 'kernel-lab',
  GIT_COMMITTER_EMAIL: 'kernel-lab@example.com',
  GIT_COMMITTER_DATE: '2000-01-01T00:00:00+0000',
};

export interface ExportResult {
  file: string;
  set: string;
  patches: number;
  baseCommit: string;
}

/** Split a format-patch file into its header block and the rest. */
function headerAndBody(text: string, file: string): { from: string; headers: string[]; body: string } {
  const lines = text.split('\n');
  if (!lines[0]!.startsWith('From ')) throw new UsageError(`${file}: not a git format-patch file (no "From <sha>" line)`);
  const end = lines.indexOf('', 1);
  if (end < 0) throw new UsageError(`${file}: no blank line after the mail headers`);
  return { from: lines[0]!, headers: lines.slice(1, end), body: lines.slice(end + 1).join('\n') };
}

/** Headers with continuation lines joined: [name, value] pairs. */
function headerValue(headers: string[], name: string): string | null {
  const want = `${name.toLowerCase()}:`;
  for (let i = 0; i < headers.length; i++) {
    if (!headers[i]!.toLowerCase().startsWith(want)) continue;
    let v = headers[i]!.slice(want.length).trim();
    for (let j = i + 1; j < headers.length && /^[ \t]/.test(headers[j]!); j++) v += ` ${headers[j]!.trim()}`;
    return v;
  }
  return null;
}

/** The commit that stands for the pinned base: its tree with fixed metadata. */
export async function baseCommitFor(rec: Recorder, repo: string, tree: string, desc: string): Promise<string> {
  return (await mustRun(rec, ['git', '-C', repo, 'commit-tree', tree, '-m', `base: ${desc}`], { env: BASE_COMMIT_ENV, what: 'git commit-tree (base commit)' })).trim();
}

export async function exportSeries(rec: Recorder, setName: string, outFile: string | null): Promise<ExportResult> {
  if (setName.includes('/')) throw new UsageError(`export-series takes one of our sets by name, not a path: '${setName}'`);
  const set = loadPatchSet(setName);
  const coverFile = path.join(set.dir, 'cover-letter');
  if (!fs.existsSync(coverFile)) throw new UsageError(`${path.relative(paths.repoRoot, coverFile)} is missing`, 'write the cover letter: first line the subject, a blank line, then the body');
  const cover = fs.readFileSync(coverFile, 'utf8').replace(/\s+$/, '');
  const [coverSubject, blank, ...coverBody] = cover.split('\n');
  if (!coverSubject || blank !== '' || coverBody.length === 0) throw new UsageError(`${path.relative(paths.repoRoot, coverFile)}: want the subject on line 1, a blank line, then the body`);
  const pin = readPin(path.join(set.dir, 'base.json'));
  const src = await sourceStage(rec, null, { pin, want: { kind: 'pin' } });
  const baseCommit = await baseCommitFor(rec, src.repo, src.baseTree, `${pin.package} ${pin.version} (sha256 ${pin.sha256})`);

  const n = set.patches.length;
  const parsed = set.patches.map((p) => ({ file: p, ...headerAndBody(fs.readFileSync(p, 'utf8'), p) }));
  const threadId = crypto.createHash('sha256').update(`${setName}\n${baseCommit}\n${cover}\n${parsed.map((p) => p.body).join('\n')}`).digest('hex').slice(0, 16);
  const msgId = (k: number) => `<${threadId}.${k}-of-${n}.${setName}@kernel-lab.example>`;

  const subjects: string[] = [];
  for (const [i, p] of parsed.entries()) {
    const subject = headerValue(p.headers, 'Subject') ?? '';
    const m = /^\[PATCH (\d+)\/(\d+)\] (.*)$/.exec(subject);
    if (!m || Number(m[1]) !== i + 1 || Number(m[2]) !== n) {
      throw new UsageError(`${path.basename(p.file)}: subject "${subject}" is not [PATCH ${i + 1}/${n}] ...`, 'regenerate the series with git format-patch --numbered');
    }
    subjects.push(m[3]!);
  }
  const authors = new Map<string, number>();
  for (const p of parsed) {
    const who = (headerValue(p.headers, 'From') ?? '').replace(/\s*<.*>$/, '');
    authors.set(who, (authors.get(who) ?? 0) + 1);
  }
  const shortlog = [...authors.entries()].map(([who]) => `${who} (${n}):\n${subjects.map((s) => `  ${s}`).join('\n')}`).join('\n\n');
  // The whole series applied to the pinned base in a scratch index: proves it applies there
  // and gives the diffstat of the series as one change, as format-patch's cover letter has it.
  const index = path.join(os.tmpdir(), `kl-export-${process.pid}.index`);
  let stat: string;
  try {
    const env = { GIT_INDEX_FILE: index };
    await mustRun(rec, ['git', '-C', src.repo, 'read-tree', src.baseTree], { env, what: 'git read-tree (base)' });
    for (const p of set.patches) {
      const r = await run(rec, ['git', '-C', src.repo, 'apply', '--cached', p], { env });
      if (r.exitCode !== 0) throw new PatchFailure(`${setName}: ${path.basename(p)} does not apply to the pinned base ${pin.version}: ${r.stderr.trim().split('\n')[0]}`);
    }
    const tip = (await mustRun(rec, ['git', '-C', src.repo, 'write-tree'], { env, what: 'git write-tree' })).trim();
    stat = await mustRun(rec, ['git', '-C', src.repo, 'diff', '--stat=72', '--summary', src.baseTree, tip], { what: 'git diff --stat' });
  } finally {
    fs.rmSync(index, { force: true });
  }
  const lastDate = headerValue(parsed[n - 1]!.headers, 'Date') ?? 'Thu, 1 Jan 2000 00:00:00 +0000';
  const firstFrom = headerValue(parsed[0]!.headers, 'From') ?? 'kernel-lab developers <kernel-lab@example.com>';

  const out: string[] = [
    'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
    `From: ${firstFrom}`,
    `Date: ${lastDate}`,
    // numbered as format-patch numbers: as wide as N (00/12 for twelve)
    `Subject: [PATCH ${'0'.padStart(String(n).length, '0')}/${n}] ${coverSubject}`,
    `Message-Id: ${msgId(0)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    coverBody.join('\n'),
    '',
    shortlog,
    '',
    stat.replace(/\s+$/, ''),
    '',
    `base-commit: ${baseCommit}`,
    '-- ',
    'kernel-lab',
    '',
  ];
  for (const [i, p] of parsed.entries()) {
    // Headers unfolded (one line each, well under RFC 5322's 998: b4 0.12 fails on a folded
    // Subject); our threading replaces any the file carries.
    const unfolded: string[] = [];
    for (const h of p.headers) {
      if (/^[ \t]/.test(h) && unfolded.length > 0) unfolded[unfolded.length - 1] += ` ${h.trim()}`;
      else unfolded.push(h);
    }
    const headers = unfolded.filter((h) => !/^(message-id|in-reply-to|references):/i.test(h));
    out.push(p.from, ...headers, `Message-Id: ${msgId(i + 1)}`, `In-Reply-To: ${msgId(0)}`, `References: ${msgId(0)}`, '', p.body.replace(/\n*$/, '\n'));
  }
  const file = outFile ?? path.join(paths.repoRoot, 'results', `${setName}.mbox`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, out.join('\n'));
  fs.renameSync(tmp, file);
  return { file, set: setName, patches: n, baseCommit };
}
