// git as the lab runs it: its own identity, and nothing of the user's git setup (global or
// system config, hooks, signing, prompts) can change what a scratch repo does.
export const GIT_ID = ['-c', 'user.name=kernel-lab', '-c', 'user.email=kernel-lab@example.com', '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null'];

/** Environment for every git child (exec.ts adds it): no global/system config, no prompts. */
// No automatic gc either: a kernel repo of ~90k loose objects repacks for minutes of CPU
// in the background of whatever git command tripped gc.auto, in the middle of a build.
export const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_COUNT: '5',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
  GIT_CONFIG_KEY_1: 'maintenance.auto',
  GIT_CONFIG_VALUE_1: 'false',
  GIT_CONFIG_KEY_2: 'core.hooksPath',
  GIT_CONFIG_VALUE_2: '/dev/null',
  // every git command has an identity (git am --quit/--abort refuse to run without one)
  GIT_CONFIG_KEY_3: 'user.name',
  GIT_CONFIG_VALUE_3: 'kernel-lab',
  GIT_CONFIG_KEY_4: 'user.email',
  GIT_CONFIG_VALUE_4: 'kernel-lab@example.com',
};
