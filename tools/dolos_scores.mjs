// Dolos's similarity of every pair of sources in each group (tools/similarity_compare.py).
//
//     node tools/dolos_scores.mjs DOLOS_DIR < groups.json > scores.json
//
// DOLOS_DIR: where `npm install @dodona/dolos-lib` ran (Dolos is not part of this
// repository). groups.json: a list of groups, each a list of Python sources (one
// exercise's answers). Out: for each group, {"i j": [similarity, containment]} for the pairs
// Dolos reports (i < j; a pair it does not report shares nothing): Dolos's similarity, and
// the larger of the two files' covered shares (the grader's measure, containment).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
const lib = await import(pathToFileURL(join(dir, "node_modules/@dodona/dolos-lib/dist/index.js")).href);
const groups = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const sources of groups) {
  const scores = {};
  if (sources.length > 1) {
    const files = sources.map((source, i) => new lib.File(`${i}.py`, source));
    const report = await new lib.Dolos({ language: "python" }).analyze(files);
    for (const pair of report.allPairs()) {
      const [a, b] = [pair.leftFile.path, pair.rightFile.path].map((p) => parseInt(p, 10));
      const covered = Math.max(pair.leftCovered / pair.leftTotal || 0, pair.rightCovered / pair.rightTotal || 0);
      scores[`${Math.min(a, b)} ${Math.max(a, b)}`] = [pair.similarity, covered];
    }
  }
  out.push(scores);
}
process.stdout.write(JSON.stringify(out));
