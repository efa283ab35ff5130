// --remote without a network: the target syntax, the key check, known_hosts matching
// (against files and fingerprints OpenSSH's own ssh-keygen writes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { UsageError } from '../../harness/errors.ts';
import { checkRemote, fingerprint, knownHostKeys, parseRemote } from '../../harness/remote.ts';

test('parseRemote: user@host[:port], names, IPv4 and bracketed IPv6', (t) => {
  t.deepEqual(parseRemote('ci@kvm-box'), { user: 'ci', host: 'kvm-box', port: 22 });
  t.deepEqual(parseRemote('root@127.0.0.1:2222'), { user: 'root', host: '127.0.0.1', port: 2222 });
  t.deepEqual(parseRemote('a.b_c@host.example.org:65535'), { user: 'a.b_c', host: 'host.example.org', port: 65535 });
  t.deepEqual(parseRemote('ci@[::1]:22'), { user: 'ci', host: '::1', port: 22 });
  for (const bad of ['kvm-box', 'ci@', '@host', 'ci@host:', 'ci@host:0', 'ci@host:65536', 'ci@host:22:22', 'ci@-host', 'ci@ho st', 'ci@host;rm', 'c@i@host', '']) {
    t.is(parseRemote(bad), null, bad);
  }
});

async function keypair(dir: string, name: string): Promise<{ priv: string; pub: string; pubLine: string }> {
  const priv = path.join(dir, name);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', priv]);
  return { priv, pub: `${priv}.pub`, pubLine: fs.readFileSync(`${priv}.pub`, 'utf8').split(' ').slice(0, 2).join(' ') };
}

test('checkRemote: a readable private key passes; a public key, a passphrase-protected key and no key are usage errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-keys-'));
  try {
    const k = await keypair(dir, 'id');
    const target = checkRemote('ci@[::1]:2200', k.priv);
    t.is(target.label, 'ci@[::1]:2200');
    t.is(target.keyPath, k.priv);
    t.throws(() => checkRemote('ci@host', k.pub), { instanceOf: UsageError, message: /is a public key/ });
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', path.join(dir, 'locked')]);
    t.throws(() => checkRemote('ci@host', path.join(dir, 'locked')), { instanceOf: UsageError, message: /not a usable private key/ });
    t.throws(() => checkRemote('ci@host', undefined), { instanceOf: UsageError, message: /no SSH key/ });
    t.throws(() => checkRemote('ci@host', path.join(dir, 'nope')), { instanceOf: UsageError, message: /cannot read it \(ENOENT\)/ });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fingerprint is what ssh-keygen -l prints', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-keys-'));
  try {
    const k = await keypair(dir, 'host');
    const { stdout } = await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.pub]);
    t.is(fingerprint(Buffer.from(k.pubLine.split(' ')[1]!, 'base64')), stdout.split(' ')[1]!);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('knownHostKeys: plain, [host]:port, wildcard, negated, hashed (ssh-keygen -H) and @revoked entries', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-keys-'));
  try {
    const a = await keypair(dir, 'a');
    const b = await keypair(dir, 'b');
    const c = await keypair(dir, 'c');
    const keyOf = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');
    const text = [
      '# comment',
      `kvm-box,10.0.0.7 ${a.pubLine}`,
      `[kvm-box]:2222 ${b.pubLine}`,
      `*.lab.example,!bad.lab.example ${c.pubLine}`,
      `@revoked kvm-box ${c.pubLine}`,
      `@cert-authority * ${b.pubLine}`,
      'garbage',
    ].join('\n');
    t.deepEqual(knownHostKeys(text, 'kvm-box', 22).keys.map((k) => k.key), [keyOf(a.pubLine)]);
    t.deepEqual(knownHostKeys(text, 'kvm-box', 22).revoked, [keyOf(c.pubLine)]);
    t.deepEqual(knownHostKeys(text, '10.0.0.7', 22).keys.map((k) => k.type), ['ssh-ed25519']);
    t.deepEqual(knownHostKeys(text, 'kvm-box', 2222).keys.map((k) => k.key), [keyOf(b.pubLine)]);
    t.deepEqual(knownHostKeys(text, 'one.lab.example', 22).keys.map((k) => k.key), [keyOf(c.pubLine)]);
    t.deepEqual(knownHostKeys(text, 'bad.lab.example', 22).keys, []);
    t.deepEqual(knownHostKeys(text, 'other', 22).keys, []);
    // Hashed names, as ssh-keygen -H writes them (HashKnownHosts yes does the same).
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, `kvm-box ${a.pubLine}\n[kvm-box]:2222 ${b.pubLine}\n`);
    await execa('ssh-keygen', ['-H', '-f', file]);
    const hashed = fs.readFileSync(file, 'utf8');
    t.false(hashed.includes('kvm-box'), 'names are hashed');
    t.deepEqual(knownHostKeys(hashed, 'kvm-box', 22).keys.map((k) => k.key), [keyOf(a.pubLine)]);
    t.deepEqual(knownHostKeys(hashed, 'kvm-box', 2222).keys.map((k) => k.key), [keyOf(b.pubLine)]);
    t.deepEqual(knownHostKeys(hashed, 'kvm-box2', 22).keys, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
