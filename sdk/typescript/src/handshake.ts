// The go-plugin handshake as mcphost's host runs it (see pluginrpc/pluginrpc.go
// and go-plugin's client.go): the host starts the plugin with the magic cookie
// and PLUGIN_PROTOCOL_VERSIONS in its environment and, with AutoMTLS, its own
// client certificate as PEM in PLUGIN_CLIENT_CERT. The plugin listens, then
// prints one line on stdout:
//
//   CORE-VERSION|APP-VERSION|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT
//   1|1|tcp|127.0.0.1:41234|grpc|MIIBlDCCATqg...   (unpadded base64 DER)
//
// The host then trusts exactly that certificate (server name "localhost"), and
// the plugin accepts only clients presenting the host's certificate.
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

export const MAGIC_COOKIE_KEY = "MCPHOST_PLUGIN";
export const MAGIC_COOKIE_VALUE = "d3b07384d113edec49eaa6238ad5ff00-mcphost-plugin";
/** go-plugin's own protocol version, the first field of the handshake line. */
export const CORE_PROTOCOL_VERSION = 1;
/** The mcphost plugin protocol version (proto/mcphost/plugin/v1). */
export const PROTOCOL_VERSION = 1;

export class HandshakeError extends Error {}

/** Checks the environment the host gives a plugin and returns the host's client certificate PEM. */
export function checkEnvironment(env: NodeJS.ProcessEnv): { clientCertPEM: string } {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    throw new HandshakeError(
      "This is an mcphost plugin: it is started by the mcphost host, not run by hand. " +
        "Add it under `plugins:` in mcphost.yaml (path: this executable).",
    );
  }
  const versions = (env.PLUGIN_PROTOCOL_VERSIONS ?? "").split(",").map((v) => v.trim());
  if (!versions.includes(String(PROTOCOL_VERSION))) {
    throw new HandshakeError(
      `the host speaks plugin protocol versions [${versions.join(",")}] but this plugin speaks ${PROTOCOL_VERSION}`,
    );
  }
  const clientCertPEM = env.PLUGIN_CLIENT_CERT ?? "";
  if (!clientCertPEM.includes("BEGIN CERTIFICATE")) {
    // mcphost always runs plugins with AutoMTLS; serving without TLS would let
    // any local process call tools as any user.
    throw new HandshakeError("PLUGIN_CLIENT_CERT is not set: the host must run plugins with AutoMTLS");
  }
  return { clientCertPEM };
}

export interface ServerIdentity {
  certPEM: string;
  keyPEM: string;
  /** The certificate's DER, unpadded base64, as the handshake line carries it. */
  certBase64: string;
}

/**
 * A fresh self-signed certificate for this process, shaped like go-plugin's
 * own (CA, server and client auth, DNS name localhost) so the host's Go TLS
 * stack accepts it as both the root and the leaf.
 */
export async function generateServerIdentity(now = new Date()): Promise<ServerIdentity> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive serial number
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString("hex"),
      name: "CN=localhost, O=mcphost plugin",
      notBefore: new Date(now.getTime() - 30_000),
      notAfter: new Date(now.getTime() + 30 * 365 * 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }]),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPEM = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;
  const der = Buffer.from(cert.rawData);
  return { certPEM: cert.toString("pem") + "\n", keyPEM, certBase64: der.toString("base64").replace(/=+$/, "") };
}

/** The line the host reads from stdout once the plugin listens. */
export function handshakeLine(address: string, certBase64: string): string {
  return `${CORE_PROTOCOL_VERSION}|${PROTOCOL_VERSION}|tcp|${address}|grpc|${certBase64}\n`;
}
