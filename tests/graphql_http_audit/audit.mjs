// Runs every graphql-http server audit (the GraphQL-over-HTTP spec yardstick) against one URL
// and prints the results as one JSON array on stdout:
//   [{"id": "...", "name": "MUST ...", "status": "ok" | "notice" | "warn" | "error", "reason": "..."}]
// Exits 0 whenever the audits ran; judging them is the caller's job (tests/test_graphql_http_audit.py).
//
// usage: node audit.mjs http://127.0.0.1:8000/graphql

import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node audit.mjs <graphql url>\n');
  process.exit(2);
}

// `auditServer` would do the same, but one audit that throws (a "fatal" error, such as a refused
// connection) would reject them all; awaiting each on its own keeps every other result.
const audits = serverAudits({ url, fetchFn: fetch });
const results = await Promise.all(
  audits.map(async ({ id, name, fn }) => {
    try {
      const result = await fn();
      if (result.status === 'ok') {
        return { id, name, status: 'ok', reason: null };
      }
      return { id, name, status: result.status, reason: result.reason };
    } catch (error) {
      const cause = error?.cause ? ` (${error.cause})` : '';
      return { id, name, status: 'error', reason: `the audit threw: ${error}${cause}` };
    }
  }),
);

process.stdout.write(JSON.stringify(results, null, 2) + '\n', () => process.exit(0));
