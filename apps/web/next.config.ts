import type { NextConfig } from 'next';

// The sidecar serves this app as plain files (apps/sidecar/src/ui/static-server.ts),
// so the app is a static export: `next build` writes apps/web/out.
// Export layout without trailingSlash: `/` -> index.html, `/foo` -> foo.html, 404.html.
const nextConfig: NextConfig = {
  output: 'export',
  // No image optimisation server (and so no sharp) in a static export.
  images: { unoptimized: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
