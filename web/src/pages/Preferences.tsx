export function PreferencesPage() {
  return <h1>Preferences</h1>;
}
