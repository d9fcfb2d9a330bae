"""The verified caller of a tool: who the host says is calling."""

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class Caller:
    """The identity the host built from the caller's verified token (the
    token itself never reaches a plugin). Empty fields mean the host had no
    such claim; an empty user_id means an unauthenticated (dev) host."""

    user_id: str = ""
    email: str = ""
    name: str = ""
    username: str = ""
    picture: str = ""
    roles: tuple = ()
    permissions: tuple = ()
    scopes: tuple = ()
    email_verified: bool = False
    # The caller's organization: the tenant to filter data by.
    organization_id: str = ""
    # The identity provider's session (the `sid` claim).
    session_id: str = ""
    client_id: str = ""
    # Every verified claim, as decoded JSON.
    claims: dict = dataclasses.field(default_factory=dict)

    def has_role(self, *roles):
        """True when the caller has any one of roles."""
        return any(r in self.roles for r in roles)

    def has_permission(self, permission):
        return permission in self.permissions

    def has_scope(self, scope):
        return scope in self.scopes

    @classmethod
    def from_proto(cls, p):
        claims = {}
        if p.claims_json:
            try:
                claims = json.loads(p.claims_json)
            except ValueError:
                claims = {}  # the typed fields are authoritative
        return cls(
            user_id=p.user_id, email=p.email, name=p.name, username=p.username, picture=p.picture,
            roles=tuple(p.roles), permissions=tuple(p.permissions), scopes=tuple(p.scopes),
            email_verified=p.email_verified, organization_id=p.organization_id,
            session_id=p.session_id, client_id=p.client_id, claims=claims,
        )

    def to_proto(self):
        from .wire import pb
        return pb.Caller(
            user_id=self.user_id, email=self.email, name=self.name, username=self.username,
            picture=self.picture, roles=list(self.roles), permissions=list(self.permissions),
            scopes=list(self.scopes), email_verified=self.email_verified,
            organization_id=self.organization_id, session_id=self.session_id, client_id=self.client_id,
            claims_json=json.dumps(self.claims).encode() if self.claims else b"",
        )
