/** Human output for the CLI: a plain aligned table, no colours, so it also reads well in CI logs. */
export interface KeyView {
  id: string;
  name: string;
  owner: string;
  scopes: string[];
  status: string;
  expiresAt: string | null;
  start: string;
  /** Absent for a key that was never used. */
  lastUsedAt?: string;
  key?: string;
  /** `leaked` when dualgate revoked the key on a leak report. */
  revokedReason?: string;
  /** A reported leak (GitHub secret scanning). */
  leak?: { reportedAt: string; reportedBy: string; url?: string; source?: string };
}

/** `revoked (leaked)`, or `active (leak reported)` for a key the `notify` action only marked. */
function statusText(key: KeyView): string {
  if (key.revokedReason) return `${key.status} (${key.revokedReason})`;
  return key.leak ? `${key.status} (leak reported)` : key.status;
}

const COLUMNS: [header: string, cell: (key: KeyView) => string][] = [
  ['ID', (key) => key.id],
  ['NAME', (key) => key.name],
  ['OWNER', (key) => key.owner],
  ['STATUS', statusText],
  ['SCOPES', (key) => key.scopes.join(' ')],
  ['EXPIRES', (key) => key.expiresAt ?? 'never'],
  ['LAST USED', (key) => key.lastUsedAt ?? 'never'],
  ['START', (key) => key.start],
];

export function keyTable(keys: readonly KeyView[]): string {
  const rows = [COLUMNS.map(([header]) => header), ...keys.map((key) => COLUMNS.map(([, cell]) => cell(key)))];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** After create/rotate: the table, then the plaintext once, with the warning that it will not be shown again. */
export function createdKeyText(key: KeyView & { key: string }): string {
  return `${keyTable([key])}\nkey: ${key.key}\nStore it now: it is shown only once.\n`;
}

/** One key in full: the table, then its leak report, if any (where it was found, and when). */
export function keyDetailText(key: KeyView): string {
  if (!key.leak) return keyTable([key]);
  const { reportedAt, reportedBy, url, source } = key.leak;
  const lines = [
    `leak reported ${reportedAt} by ${reportedBy}${source ? ` (${source})` : ''}`,
    `  found at ${url ?? '(no URL in the report)'}`,
  ];
  if (key.status !== 'revoked') lines.push('  the key still works: revoke or rotate it (dualgate keys revoke / rotate)');
  return `${keyTable([key])}\n${lines.join('\n')}\n`;
}
