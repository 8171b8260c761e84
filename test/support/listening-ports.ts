/**
 * Which TCP ports a process and its descendants listen on, read from /proc (Linux): each process's socket
 * inodes (/proc/<pid>/fd) matched against the LISTEN sockets of its network namespace (/proc/<pid>/net/tcp and
 * tcp6). Worker threads share their process's descriptors, so they are covered too. This finds listeners no
 * banner mentions, which is the point: a test probing "every port" must not trust the program to list them.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface ListeningSocket {
  pid: number;
  /** The bound address as text: `127.0.0.1`, `0.0.0.0`, `::1`, `::`… */
  address: string;
  port: number;
}

/** Whether this machine can answer: /proc with per-process network tables. */
export function canListListeningSockets(): boolean {
  return existsSync(join('/proc', String(process.pid), 'net', 'tcp'));
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(join('/proc', String(pid), 'stat'), 'utf8');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last `)`.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** `rootPid` and every process below it. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentPid(Number(entry));
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(join('/proc', String(pid), 'fd'));
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(join('/proc', String(pid), 'fd', fd)));
      if (match) inodes.add(match[1] as string);
    } catch {
      // The descriptor closed while we read the directory.
    }
  }
  return inodes;
}

/** /proc/net/tcp's hex address: IPv4 as one little-endian word, IPv6 as four. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => (word.match(/../g) ?? []).reverse().map((byte) => parseInt(byte, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push((((bytes[index] as number) << 8) | (bytes[index + 1] as number)).toString(16));
  if (groups.slice(0, 5).every((group) => group === '0') && groups[5] === 'ffff') return `::ffff:${bytes.slice(12).join('.')}`;
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The LISTEN sockets (TCP, IPv4 and IPv6) held by `rootPid` or any of its descendants. */
export function listeningSockets(rootPid: number): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const pid of processTree(rootPid)) {
    const inodes = socketInodes(pid);
    if (inodes.size === 0) continue;
    for (const table of ['tcp', 'tcp6']) {
      let text: string;
      try {
        text = readFileSync(join('/proc', String(pid), 'net', table), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        // sl local_address rem_address st … inode; st 0A is LISTEN.
        if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9] as string)) continue;
        const [address, port] = (fields[1] as string).split(':') as [string, string];
        sockets.push({ pid, address: decodeAddress(address), port: parseInt(port, 16) });
      }
    }
  }
  return sockets;
}
