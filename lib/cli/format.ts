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
}

const COLUMNS: [header: string, cell: (key: KeyView) => string][] = [
  ['ID', (key) => key.id],
  ['NAME', (key) => key.name],
  ['OWNER', (key) => key.owner],
  ['STATUS', (key) => key.status],
  ['SCOPES', (key) => key.scopes.join(' ')],
  ['EXPIRES', (key) => key.expiresAt ?? 'never'],
  ['LAST USED', (key) => key.lastUsedAt ?? 'never'],
  ['START', (key) => key.start],
];

export function keyTable(keys: readonly KeyView[]): string {
  const rows = [COLUMNS.map(([header]) => header), ...keys.map((key) => COLUMNS.map(([, cell]) => cell(key)))];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** After create/rotate: the table, then the plaintext once, with the warning that it will not be shown again. */
export function createdKeyText(key: KeyView & { key: string }): string {
  return `${keyTable([key])}\nkey: ${key.key}\nStore it now: it is shown only once.\n`;
}
