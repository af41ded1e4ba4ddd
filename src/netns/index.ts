export { Namespace, deleteNamespace, type NamespaceOptions, type TapOpenOptions } from './namespace.js';
export { run, ip, ipSync, listNamespaces, type ExecOptions, type ExecResult } from './exec.js';
export * as netnsCommands from './commands.js';
