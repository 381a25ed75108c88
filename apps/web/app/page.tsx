import { Dashboard } from '../src/components/Dashboard';

export default function Home() {
  return <Dashboard />;
}
