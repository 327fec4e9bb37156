// Runner for tools/bench_heap32.py (not meant to be used alone):
//   node tools/bench_heap32.mjs MICROPYTHON_MJS MODULE_DIR SCRIPT HEAPSIZE
// Starts the MicroPython WebAssembly port with the given initial heap, copies the *.py/*.mpy
// files of MODULE_DIR into /mods of its in-memory filesystem and runs SCRIPT there.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, modDir, script, heap] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(pkg).href);
const mp = await loadMicroPython({
  heapsize: Number(heap),
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdir("/mods");
for (const name of fs.readdirSync(modDir)) {
  if (name.endsWith(".py") || name.endsWith(".mpy")) {
    mp.FS.writeFile("/mods/" + name, fs.readFileSync(path.join(modDir, name)));
  }
}
try {
  mp.runPython(fs.readFileSync(script, "utf8"));
} catch (err) {
  process.stderr.write(String(err) + "\n");
  process.exit(1);
}
