// Runs the two wasm32 modules (wasm-bindgen --target nodejs output) in node on the demo
// CoTs: load time, texts/s, and the total number of ids (the two must agree).
// node bench-wasm.cjs <dir with hand/ and hf/> <vocab.txt> <tokenizer.json> <demo_cots.json>
const fs = require("fs");
const [dir, vocab, json, demo] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(demo, "utf8")).map((r) => r.cot);
const reps = 10;
for (const [name, init, encode, input] of [
  ["hand", "hand_init", "hand_encode", vocab],
  ["hf", "hf_init", "hf_encode", json],
]) {
  const path = `${dir}/${name}/tokenizer_compare.js`;
  if (!fs.existsSync(path)) { console.log(`${name}: no module`); continue; }
  const m = require(path);
  const text = fs.readFileSync(input, "utf8");
  let t = performance.now();
  m[init](text);
  const load = performance.now() - t;
  let ids = 0;
  for (const s of texts) ids += m[encode](s); // warm-up and check
  t = performance.now();
  for (let r = 0; r < reps; r++) for (const s of texts) m[encode](s);
  const rate = (reps * texts.length) / ((performance.now() - t) / 1000);
  console.log(`${name} (wasm32 in node ${process.version}): ${rate.toFixed(0)} texts/s, load ${load.toFixed(1)} ms, ${ids} ids in all`);
}
