export function FormError({ message }: { message?: string }) {
  return (
    <p role="alert" className="min-h-0 text-sm text-red-700 empty:hidden dark:text-red-300">
      {message ?? ''}
    </p>
  );
}
