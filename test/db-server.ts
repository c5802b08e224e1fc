/** TEST_DATABASE_URL names a PostgreSQL server the tests may create and drop databases on. */
export function testDatabaseServer(): string | undefined {
  const url = process.env['TEST_DATABASE_URL']?.trim();
  return url ? url : undefined;
}

/** The server's maintenance database, where CREATE/DROP DATABASE are issued. */
export function adminUrlFor(server: string): string {
  return databaseUrlFor(server, 'postgres');
}

export function databaseUrlFor(server: string, database: string): string {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
}
