// Searches files as raw bytes for secret strings: the canary check of the logs and the database.
import fs from 'node:fs';
import path from 'node:path';

// Every regular file under dir (recursively), or [dir] if it is a file; [] if missing.
export function filesUnder(p) {
    let st;
    try {
        st = fs.statSync(p);
    } catch {
        return [];
    }
    if (st.isFile()) return [p];
    if (!st.isDirectory()) return [];
    return fs.readdirSync(p).flatMap((n) => filesUnder(path.join(p, n)));
}

// needles: [{label, value}]. Returns ["LABEL in FILE", ...] for each needle found in a file.
// Searches the UTF-8 bytes and, for good measure, their UTF-16LE form (SQLite text encodings).
export function findIn(files, needles) {
    const hits = [];
    for (const f of files) {
        let buf;
        try {
            buf = fs.readFileSync(f);
        } catch {
            continue; // gone meanwhile (a -shm or -journal file)
        }
        for (const n of needles) {
            if (!n.value) continue;
            if (buf.indexOf(Buffer.from(n.value, 'utf8')) >= 0 || buf.indexOf(Buffer.from(n.value, 'utf16le')) >= 0) {
                hits.push(`${n.label} in ${f}`);
            }
        }
    }
    return hits;
}

// The whole canary verdict. c: {logs: [paths], dataDir, nowhere: [needles], notInLogs: [needles],
// notInDb: [needles]}. Returns the list of violations (empty: pass).
export function canaryViolations(c) {
    const logs = c.logs.flatMap(filesUnder);
    const db = filesUnder(c.dataDir);
    return [
        ...findIn([...logs, ...db], c.nowhere),
        ...findIn(logs, c.notInLogs),
        ...findIn(db, c.notInDb),
    ];
}

// Command line (tests/integration/signal.sh, after the server stopped): node scan.mjs FILE,
// where FILE is the JSON the canary test wrote. Prints one ok/FAIL line and the totals.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
    const name = 'canary_absent_after_shutdown';
    let bad;
    try {
        const c = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
        bad = canaryViolations(c);
        const seen = [...c.logs.flatMap(filesUnder), ...filesUnder(c.dataDir)];
        if (seen.length === 0) bad.push('no log or database file to search');
    } catch (e) {
        bad = [`cannot read the canary list ${process.argv[2]}: ${e.message}`];
    }
    if (bad.length === 0) console.log(`ok ${name}`);
    else console.log(`FAIL ${name}: ${bad.join('; ')}`);
    console.log(`${bad.length ? 0 : 1} passed, ${bad.length ? 1 : 0} failed`);
    process.exit(bad.length ? 1 : 0);
}
