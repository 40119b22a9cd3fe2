// Bundles the front end into static/dist with esbuild.
import * as esbuild from 'esbuild';

await esbuild.build({
  entryPoints: { editor: 'web/editor.js' },
  outdir: 'static/dist',
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: true,
  target: ['es2020'],
  logLevel: 'warning',
});
