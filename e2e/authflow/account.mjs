// The one user of the AuthKit stand-in (as.mjs). The test client (client.mjs)
// signs in with email and password, and the Go test expects these values back
// from mcphost's whoami tool.
export const ACCOUNT = Object.freeze({
  id: 'user_e2e_01',
  email: 'ada@e2e.example',
  password: 'correct horse battery staple',
  name: 'Ada E2E',
  org_id: 'org_e2e',
  roles: ['admin'],
  permissions: ['documents:write'],
});
