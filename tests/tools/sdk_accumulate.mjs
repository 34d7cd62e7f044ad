// Replays every tests/data/translate/stream/*/anthropic.sse through the
// official Anthropic SDK stream accumulator (client.messages.stream) from a
// 127.0.0.1 server, and checks that streams ending in message_stop give a
// final message and streams ending in `event: error` reject.
// Usage: NODE_PATH=<absolute dir with node_modules> node tests/tools/sdk_accumulate.mjs [data dir]
// (the pinned SDK: `npm ci` in tests/sdk; tests/sdk/test_sdk_accumulate.py runs this).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'x.js'));
const Anthropic = require('@anthropic-ai/sdk').default ?? require('@anthropic-ai/sdk');
const dataDir = process.argv[2] || 'tests/data/translate/stream';
const cases = fs.readdirSync(dataDir).filter((d) => fs.existsSync(path.join(dataDir, d, 'anthropic.sse'))).sort();
let current = '';
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    res.end(fs.readFileSync(path.join(dataDir, current, 'anthropic.sse')));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const client = new Anthropic({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${server.address().port}`, maxRetries: 0 });
let bad = 0;
for (const c of cases) {
  current = c;
  const text = fs.readFileSync(path.join(dataDir, c, 'anthropic.sse'), 'utf8');
  const wantError = text.includes('event: error\n');
  try {
    const msg = await client.messages.stream({ model: 'claude-opus-5-5', max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    if (wantError) { bad++; console.log(`FAIL ${c}: expected an error`); continue; }
    for (const b of msg.content) {
      if (b.type === 'tool_use' && (typeof b.input !== 'object' || b.input === null)) {
        bad++; console.log(`FAIL ${c}: tool input ${JSON.stringify(b.input)}`);
      }
    }
    console.log(`ok   ${c}: ${msg.stop_reason} ${JSON.stringify(msg.content).slice(0, 100)}`);
  } catch (e) {
    if (wantError) { console.log(`ok   ${c}: rejected (${e.constructor.name}: ${String(e.message).slice(0, 60)})`); }
    else { bad++; console.log(`FAIL ${c}: ${e}`); }
  }
}
server.close();
console.log(`${cases.length - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
