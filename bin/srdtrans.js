#!/usr/bin/env node
// The CLI runs the built package (dist/, made by `npm install` through the prepare script, or `npm run build`).
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
