// undici peer for the benchmarks: sends N GET requests to one URL through an undici Pool of
// C connections (pipelining 1) from C async workers, reads every body to its end counting
// bytes, and prints one JSON line on stdout:
//
//   {"client":"undici","requests":N,"ok":K,"failed":F,"elapsed_s":X,"rps":R,
//    "cpu_user_s":U,"cpu_sys_s":S,"peak_rss_kb":M}
//
// A request is ok when it got the expected status and its body was read to the end with the
// expected length (if one was given); anything else, including a transport or TLS error, is a
// failure. elapsed_s runs from the first request issued to the last one finished; rps is
// (ok + failed) / elapsed_s; cpu and peak RSS are those of the whole node process.
// When requests failed, a one-line summary of the reasons goes to stderr.
//
// Exit status: 0 when the run completed (also if requests failed), 1 when it cannot run
// (for example an unreadable --cacert file), 2 for usage errors.

import { readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { Pool } from 'undici';

const USAGE = `usage: node peer.mjs [-n N] [-c C] [--insecure | --cacert FILE] [--expect-status S] [--expect-bytes B] URL
  -n N              total requests (default 1000)
  -c C              concurrent in-flight requests = connections in an undici Pool (default 16)
  --insecure        https without verification; --cacert FILE: verify with this CA (host name verification on)
  --expect-status S a request is ok only if its status is S (default 200)
  --expect-bytes B  ...and its body length is exactly B (default any)
`;

function usageError(message) {
    process.stderr.write(`peer.mjs: ${message}\n${USAGE}`);
    process.exit(2);
}

function parseCount(flag, text, min) {
    if (text === undefined)
        usageError(`${flag} needs a value`);
    if (!/^[0-9]+$/.test(text))
        usageError(`${flag}: not a non-negative integer: ${JSON.stringify(text)}`);
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min)
        usageError(`${flag}: must be an integer >= ${min}: ${text}`);
    return value;
}

function parseArgs(argv) {
    const opts = {
        requests: 1000,
        concurrency: 16,
        insecure: false,
        cacert: null,
        expectStatus: 200,
        expectBytes: null,
        url: null,
    };
    for (let i = 0; i < argv.length; ++i) {
        const arg = argv[i];
        switch (arg) {
        case '-h':
        case '--help':
            process.stdout.write(USAGE);
            process.exit(0);
            break;
        case '-n':
            opts.requests = parseCount(arg, argv[++i], 1);
            break;
        case '-c':
            opts.concurrency = parseCount(arg, argv[++i], 1);
            break;
        case '--insecure':
            opts.insecure = true;
            break;
        case '--cacert':
            opts.cacert = argv[++i];
            if (opts.cacert === undefined || opts.cacert === '')
                usageError('--cacert needs a file');
            break;
        case '--expect-status':
            opts.expectStatus = parseCount(arg, argv[++i], 100);
            if (opts.expectStatus > 999)
                usageError(`--expect-status: not a status code: ${opts.expectStatus}`);
            break;
        case '--expect-bytes':
            opts.expectBytes = parseCount(arg, argv[++i], 0);
            break;
        default:
            if (arg.startsWith('-') && arg !== '-')
                usageError(`unknown option: ${arg}`);
            if (opts.url !== null)
                usageError(`more than one URL: ${arg}`);
            opts.url = arg;
        }
    }
    if (opts.url === null)
        usageError('missing URL');
    if (opts.insecure && opts.cacert !== null)
        usageError('--insecure and --cacert exclude each other');
    let url;
    try {
        url = new URL(opts.url);
    } catch {
        usageError(`not a URL: ${opts.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
        usageError(`not an http or https URL: ${opts.url}`);
    if (url.username || url.password)
        usageError('credentials in the URL are not supported');
    opts.origin = url.origin;
    opts.path = url.pathname + url.search;
    opts.https = url.protocol === 'https:';
    return opts;
}

const opts = parseArgs(process.argv.slice(2));

const connect = {};
if (opts.https) {
    if (opts.insecure) {
        connect.rejectUnauthorized = false;
    } else if (opts.cacert !== null) {
        try {
            connect.ca = readFileSync(opts.cacert);
        } catch (err) {
            process.stderr.write(`peer.mjs: cannot read --cacert ${opts.cacert}: ${err.message}\n`);
            process.exit(1);
        }
        connect.rejectUnauthorized = true;
    }
}

const pool = new Pool(opts.origin, { connections: opts.concurrency, pipelining: 1, connect });
// Connection-level errors reach the requests that were on the connection; this only keeps
// an unexpected 'error' event from taking the process down.
pool.on('error', () => {});

const reasons = new Map();
function fail(reason) {
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
}

const requestOptions = { path: opts.path, method: 'GET' };
const { expectStatus, expectBytes } = opts;
let issued = 0;
let ok = 0;
let failed = 0;
let lastDone = 0;

async function worker() {
    while (issued < opts.requests) {
        ++issued;
        try {
            const { statusCode, body } = await pool.request(requestOptions);
            let bytes = 0;
            // A 'data' listener costs less per chunk than `for await` (no promise per chunk);
            // finished() settles on 'end' and rejects on an error or a premature close.
            body.on('data', (chunk) => {
                bytes += chunk.length;
            });
            await finished(body);
            if (statusCode !== expectStatus) {
                ++failed;
                fail(`status_${statusCode}`);
            } else if (expectBytes !== null && bytes !== expectBytes) {
                ++failed;
                fail('body_length');
            } else {
                ++ok;
            }
        } catch (err) {
            ++failed;
            fail(err?.code ?? err?.name ?? 'error');
        }
        lastDone = performance.now();
    }
}

const started = performance.now();
lastDone = started;
const workers = [];
for (let i = 0; i < opts.concurrency; ++i)
    workers.push(worker());
await Promise.all(workers);
const elapsed = (lastDone - started) / 1000;

try {
    await pool.close();
} catch {
    // a pool that fails to close cleanly does not change the counts
}

const cpu = process.cpuUsage();
const round = (x) => Number((Number.isFinite(x) ? x : 0).toFixed(6));
const report = {
    client: 'undici',
    requests: opts.requests,
    ok,
    failed,
    elapsed_s: round(elapsed),
    rps: round(elapsed > 0 ? (ok + failed) / elapsed : 0),
    cpu_user_s: round(cpu.user / 1e6),
    cpu_sys_s: round(cpu.system / 1e6),
    peak_rss_kb: process.resourceUsage().maxRSS,
};
if (failed > 0) {
    const summary = [...reasons].map(([reason, count]) => `${reason}=${count}`).join(' ');
    process.stderr.write(`peer.mjs: ${failed} of ${opts.requests} requests failed: ${summary}\n`);
}
process.stdout.write(JSON.stringify(report) + '\n');
process.exitCode = 0;
