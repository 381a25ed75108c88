const commands = [
  {
    label: 'Share a folder (the serving peer)',
    command: 'leafsync serve DIR --port 4455',
  },
  {
    label: 'Fetch it once from another machine (trusts the first certificate it sees)',
    command: 'leafsync connect HOST:PORT DIR --accept-first --once',
  },
] as const;

const modes = [
  { name: 'Serve', text: 'Offer a folder to peers you trust.' },
  { name: 'Connect', text: 'Keep a local copy in sync with a peer.' },
  { name: 'Watch', text: 'Also push your local edits as they happen.' },
] as const;

export default function Home() {
  return (
    <>
      <header className="border-b border-neutral-200 dark:border-neutral-800">
        <div className="mx-auto flex max-w-3xl items-center gap-3 px-6 py-4">
          <span aria-hidden="true" className="text-2xl text-leaf-600">
            ❧
          </span>
          <h1 className="text-xl font-semibold tracking-tight">leafsync</h1>
          <p className="ml-auto text-sm text-neutral-500 dark:text-neutral-400">
            peer-to-peer folder sync
          </p>
        </div>
      </header>

      <main id="main" className="mx-auto max-w-3xl px-6 py-10">
        <section aria-labelledby="intro-heading">
          <h2 id="intro-heading" className="text-2xl font-semibold tracking-tight">
            The dashboard is coming
          </h2>
          <p className="mt-3 leading-relaxed text-neutral-700 dark:text-neutral-300">
            Two peers keep a folder identical over a single UDP port, encrypted with TLS 1.3 and
            trusted by pinned certificate fingerprints. Soon this page will let you start and
            follow each mode from the browser:
          </p>
          <ul className="mt-4 grid gap-3 sm:grid-cols-3">
            {modes.map((mode) => (
              <li
                key={mode.name}
                className="rounded-lg border border-neutral-200 p-4 dark:border-neutral-800"
              >
                <h3 className="font-medium text-leaf-700 dark:text-leaf-100">{mode.name}</h3>
                <p className="mt-1 text-sm text-neutral-600 dark:text-neutral-400">{mode.text}</p>
              </li>
            ))}
          </ul>
        </section>

        <section aria-labelledby="cli-heading" className="mt-10">
          <h2 id="cli-heading" className="text-lg font-semibold tracking-tight">
            Until then, use the command line
          </h2>
          <dl className="mt-4 space-y-4">
            {commands.map((item) => (
              <div key={item.command}>
                <dt className="text-sm text-neutral-600 dark:text-neutral-400">{item.label}</dt>
                <dd className="mt-1">
                  <pre className="overflow-x-auto rounded-md bg-neutral-900 px-4 py-3 font-mono text-sm text-leaf-50">
                    <code>{item.command}</code>
                  </pre>
                </dd>
              </div>
            ))}
          </dl>
        </section>
      </main>

      <footer className="mx-auto max-w-3xl px-6 pb-10 text-sm text-neutral-500 dark:text-neutral-400">
        Served by the local leafsync sidecar.
      </footer>
    </>
  );
}
