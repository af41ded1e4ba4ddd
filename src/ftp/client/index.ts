export { FtpClient, parseQuotedPath } from './client.js';
export type { DataMode, DownloadOptions, FtpClientOptions, GetOptions, GetResult, PutOptions, PutResult, TransferOptions, TransferType } from './options.js';
export { FtpConnectionError, FtpReplyError, FtpSizeMismatchError, FtpUsageError } from './errors.js';
export { partialPath, safeLocalPath } from './local-path.js';
export { parseFtpUrl, type FtpUrl } from './url.js';
export { FtpShell, formatRate, type ProgressDisplay, type ShellOptions } from './shell.js';
export { splitCommands, splitWords } from './shell-words.js';
export { lookupNetrc, parseNetrc, findNetrcEntry, type NetrcEntry } from './netrc.js';
