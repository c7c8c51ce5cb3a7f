import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The console is served by kmlog under /console/ (index.html also at /).
// `npm run dev` proxies the API to a kmlog on 127.0.0.1:3100.
export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/loki': { target: 'http://127.0.0.1:3100', ws: true },
      '/console/config.json': 'http://127.0.0.1:3100',
    },
  },
})
