// Regenerate data/<encoding>.bpe, the mmap-ready rank tables of ccproxy-tokens,
// from the rank data in the npm package tiktoken (see data/README.md).
// Usage: node data/gen-vocab.mjs [OUTDIR]   (needs npm and the npm registry)
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PKG = 'tiktoken@1.0.22';
const TGZ_SHA256 = '55c339e756fdb17604f7c7e3eb35d2bcbffe4d960e8096e50285d1cefa51dd90';
const ENCODINGS = {
    o200k_base: 'df53e1a5f146e33a1b144d12ad9d685ee1b54dbc8b0950791ed45c933b119dc1',
    cl100k_base: '49a4e05dea02c8fafbd50cc4725c4aab8f39386c0afedef118e0dfebc2fe523a',
};
const MAGIC = 'CCPBPE1\0';
const HEADER = 32;

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function check(what, buf, want) {
    const got = sha256(buf);
    if (got !== want) {
        throw new Error(`${what}: sha256 ${got}, expected ${want}`);
    }
}

/* Must match tr_bpe_hash() in translate/bpe.c: FNV-1a 32 with a final mix. */
function hash(bytes, start, end) {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) {
        h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    }
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    return h;
}

function build(json) {
    const toks = [];
    for (const line of json.bpe_ranks.split('\n')) {
        if (line === '') {
            continue;
        }
        const [, offStr, ...b64] = line.split(' ');
        const off = Number.parseInt(offStr, 10);
        b64.forEach((t, i) => {
            toks[off + i] = Buffer.from(t, 'base64');
        });
    }
    const n = toks.length;
    for (let r = 0; r < n; r++) {
        if (toks[r] === undefined) {
            throw new Error(`rank ${r} missing: ranks are not dense`);
        }
    }
    let bits = 1;
    while ((1 << bits) < n * 2) {
        bits++;
    }
    const mask = (1 << bits) - 1;
    const blob = Buffer.concat(toks);
    const offs = new Uint32Array(n + 1);
    let maxlen = 0;
    for (let r = 0, o = 0; r < n; r++) {
        offs[r] = o;
        o += toks[r].length;
        offs[r + 1] = o;
        maxlen = Math.max(maxlen, toks[r].length);
    }
    const slots = new Uint32Array(1 << bits);
    const seen = new Set();
    for (let r = 0; r < n; r++) {
        const key = toks[r].toString('latin1');
        if (seen.has(key)) {
            throw new Error(`rank ${r}: duplicate token`);
        }
        seen.add(key);
        let i = hash(blob, offs[r], offs[r + 1]) & mask;
        while (slots[i] !== 0) {
            i = (i + 1) & mask;
        }
        slots[i] = r + 1;
    }
    const head = Buffer.alloc(HEADER);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(n, 8);
    head.writeUInt32LE(bits, 12);
    head.writeUInt32LE(blob.length, 16);
    head.writeUInt32LE(maxlen, 20);
    return Buffer.concat([head, Buffer.from(offs.buffer), Buffer.from(slots.buffer), blob]);
}

const outdir = process.argv[2] || path.dirname(new URL(import.meta.url).pathname);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-vocab-'));
try {
    const name = execFileSync('npm', ['pack', '--silent', PKG], { cwd: tmp }).toString().trim();
    const tgz = path.join(tmp, name);
    check(name, fs.readFileSync(tgz), TGZ_SHA256);
    execFileSync('tar', ['xzf', tgz, '-C', tmp]);
    for (const [enc, want] of Object.entries(ENCODINGS)) {
        const raw = fs.readFileSync(path.join(tmp, 'package', 'encoders', enc + '.json'));
        check(enc + '.json', raw, want);
        const out = build(JSON.parse(raw));
        fs.writeFileSync(path.join(outdir, enc + '.bpe'), out);
        console.log(`${enc}.bpe: ${out.length} bytes, sha256 ${sha256(out)}`);
    }
} finally {
    fs.rmSync(tmp, { recursive: true, force: true });
}
