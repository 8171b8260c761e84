/** Reads the route table file the construct writes beside each bundle: the one file a Lambda reads at init. */
import { readFileSync } from 'node:fs';
import { parseRuntimeRouteConfigText, routeConfigError, RUNTIME_CONFIG_FILE_VARIABLE, type RuntimeRouteConfig } from '../core/route-config';

/** Read the file beside the bundle (or where DUALGATE_CONFIG_FILE says): once, at init. */
export function readRuntimeRouteConfig(file: string | URL, env: Record<string, string | undefined> = process.env): RuntimeRouteConfig {
  const location = env[RUNTIME_CONFIG_FILE_VARIABLE] || file;
  let text: string;
  try {
    text = readFileSync(location, 'utf8');
  } catch (error) {
    throw routeConfigError(`cannot read ${String(location)} (${(error as Error).message}); the construct writes it into the Lambda asset`);
  }
  return parseRuntimeRouteConfigText(text);
}
