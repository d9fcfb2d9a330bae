// The verified identity of the user behind a call, as the host built it from
// the token's claims (proto message Caller). The token itself never reaches a
// plugin. Every field is empty when the host runs without authentication.

/** The wire form of Caller as the SDK decodes it (camelCase field names). */
export interface WireCaller {
  userId?: string;
  email?: string;
  name?: string;
  username?: string;
  picture?: string;
  roles?: string[];
  permissions?: string[];
  scopes?: string[];
  emailVerified?: boolean;
  organizationId?: string;
  sessionId?: string;
  clientId?: string;
  claimsJson?: Uint8Array;
}

export class Caller {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly username: string;
  readonly picture: string;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly scopes: readonly string[];
  readonly emailVerified: boolean;
  /** The organization (tenant) the token was issued for; filter tenant data by this. */
  readonly organizationId: string;
  /** The identity provider's session id (the `sid` claim). */
  readonly sessionId: string;
  readonly clientId: string;
  readonly #claimsJson: Uint8Array | undefined;
  #claims: Record<string, unknown> | undefined;

  constructor(w: WireCaller = {}) {
    this.userId = w.userId ?? "";
    this.email = w.email ?? "";
    this.name = w.name ?? "";
    this.username = w.username ?? "";
    this.picture = w.picture ?? "";
    this.roles = Object.freeze([...(w.roles ?? [])]);
    this.permissions = Object.freeze([...(w.permissions ?? [])]);
    this.scopes = Object.freeze([...(w.scopes ?? [])]);
    this.emailVerified = w.emailVerified ?? false;
    this.organizationId = w.organizationId ?? "";
    this.sessionId = w.sessionId ?? "";
    this.clientId = w.clientId ?? "";
    this.#claimsJson = w.claimsJson && w.claimsJson.length > 0 ? w.claimsJson : undefined;
  }

  /** Whether the host verified a user (false under `auth: {provider: none}`). */
  get authenticated(): boolean {
    return this.userId !== "";
  }

  hasRole(role: string): boolean {
    return this.roles.includes(role);
  }

  hasPermission(permission: string): boolean {
    return this.permissions.includes(permission);
  }

  hasScope(scope: string): boolean {
    return this.scopes.includes(scope);
  }

  /** Every verified claim of the token, decoded on first use ({} when none). */
  get claims(): Readonly<Record<string, unknown>> {
    if (this.#claims === undefined) {
      this.#claims = {};
      if (this.#claimsJson) {
        try {
          const v: unknown = JSON.parse(Buffer.from(this.#claimsJson).toString("utf8"));
          if (v && typeof v === "object" && !Array.isArray(v)) this.#claims = v as Record<string, unknown>;
        } catch {
          // best effort: the typed fields are authoritative
        }
      }
    }
    return this.#claims;
  }

  toJSON() {
    return {
      userId: this.userId, email: this.email, name: this.name, username: this.username,
      roles: this.roles, permissions: this.permissions, scopes: this.scopes,
      emailVerified: this.emailVerified, organizationId: this.organizationId,
      sessionId: this.sessionId, clientId: this.clientId,
    };
  }
}
