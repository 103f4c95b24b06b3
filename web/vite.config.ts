/* Build of the sievefs web app.
 *
 * The server (api/web.c) serves web/dist/ as static files under a strict CSP
 * (script-src 'self', style-src 'self'): so the built index.html must hold no
 * inline script or style. Vite's only inline script is the modulepreload
 * polyfill, turned off here (every browser the app targets supports
 * <link rel=modulepreload>). Everything but index.html goes under dist/assets/
 * with content-hashed names, which the server answers as immutable. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
