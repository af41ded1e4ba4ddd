/**
 * Which FTP reply an operating-system error deserves. The first digit matters to
 * clients: 4yz means "try again later" (lftp retries such a STOR for ever), 5yz
 * means "this will not work". So only faults that may pass are 451; a read-only
 * directory or a permission problem is 550, a bad name 553 (RFC 959 4.2, 5.4).
 */
export interface ErrorReply {
  code: number;
  text: string;
  /** Counter suffix: `ftp.server.error.<reason>`. */
  reason: string;
}

export function replyForOsError(err: unknown): ErrorReply {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { code: 550, text: 'No such file or directory.', reason: 'not_found' };
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
      return { code: 550, text: 'Permission denied.', reason: 'denied' };
    case 'EROFS':
      return { code: 550, text: 'Read-only file system.', reason: 'read_only_fs' };
    case 'EEXIST':
      return { code: 550, text: 'File exists.', reason: 'exists' };
    case 'ENOTEMPTY':
      return { code: 550, text: 'Directory not empty.', reason: 'not_empty' };
    case 'EISDIR':
      return { code: 550, text: 'Is a directory.', reason: 'is_directory' };
    case 'ENAMETOOLONG':
    case 'EINVAL':
      // RFC 959 4.2: 553 "Requested action not taken. File name not allowed."
      return { code: 553, text: 'File name not allowed.', reason: 'bad_name' };
    case 'EDQUOT':
    case 'EFBIG':
      // RFC 959 4.2: 552 "Exceeded storage allocation".
      return { code: 552, text: 'Exceeded storage allocation.', reason: 'quota' };
    case 'ENOSPC':
      // RFC 959 4.2: 452 "Insufficient storage space in system" (may pass).
      return { code: 452, text: 'Insufficient storage space.', reason: 'no_space' };
    default:
      // EIO, EMFILE, ENFILE, EAGAIN, ENOMEM, EBUSY, ...: a fault that may pass.
      return { code: 451, text: 'Requested action aborted: local error in processing.', reason: 'local' };
  }
}
