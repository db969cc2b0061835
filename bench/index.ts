/**
 * `npm run bench -- <name> [options]`: benchmarks that print figures (never timed tests).
 *   train    forward, forward+backward and Adam step per backend (issue: training speed)
 */
const benches: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  train: () => import('./train.js'),
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]\n`);
  process.exitCode = 2;
} else {
  await (await load()).main(rest);
}
