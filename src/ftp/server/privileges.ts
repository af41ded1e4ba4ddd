/**
 * Dropping root's privileges once the server holds what only root may open (the TAP
 * device, a capture file, the users file). From then on the kernel checks every
 * file access against an unprivileged user, so a root-owned mode-600 file or a
 * mode-700 directory in the served tree is refused (550) as it is by vsftpd, which
 * does the same (its `nopriv_user`, default `nobody`).
 */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user's ids from the system's user database (`id`, so NSS sources count too); undefined if unknown. */
export function lookUpUser(name: string): RunAsUser | undefined {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) return undefined;
  try {
    const id = (flag: string): number => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const uid = id('-u');
    const gid = id('-g');
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Become `user` for good: supplementary groups first (only root may set them), then
 * the group, then the user (after setuid we could no longer change the group).
 */
export function dropPrivileges(user: RunAsUser): void {
  if (!process.setgroups || !process.setgid || !process.setuid) throw new Error('this platform cannot change users');
  process.setgroups([user.gid]);
  process.setgid(user.gid);
  process.setuid(user.uid);
}

/** Can the current (already dropped) user list and enter `dir`? */
export async function canServe(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.R_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
