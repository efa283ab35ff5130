// git as the lab runs it: its own identity, and nothing of the user's git setup (global or
// system config, hooks, signing, prompts) can change what a scratch repo does.
export const GIT_ID = ['-c', 'user.name=kernel-lab', '-c', 'user.email=kernel-lab@example.com', '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null'];

/** Environment for every git child (exec.ts adds it): no global/system config, no prompts. */
export const GIT_ENV: Record<string, string> = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
