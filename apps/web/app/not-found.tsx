import Link from 'next/link';

export default function NotFound() {
  return (
    <main id="main" className="mx-auto max-w-3xl px-6 py-16">
      <p className="text-sm font-medium text-leaf-600">404</p>
      <h1 className="mt-2 text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="mt-3 text-neutral-700 dark:text-neutral-300">
        There is nothing at this address on the leafsync dashboard.
      </p>
      <p className="mt-6">
        <Link href="/" className="font-medium text-leaf-700 underline underline-offset-4 dark:text-leaf-100">
          Back to the start page
        </Link>
      </p>
    </main>
  );
}
