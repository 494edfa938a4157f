--- clientcert.causes: the catalogue of documented causes, and the only map from
-- OpenSSL verification codes (X509_V_ERR_*) to them.
--
-- Each cause: id (stable; deprecated, never renamed), status and IIS-style
-- substatus, title (as an operator reads it in a log), message (a template
-- filled with the actual certificate's facts), resolution (ordered steps, each
-- naming who must act). Causes are listed in precedence order: when a chain
-- has several problems, the first listed is the one to fix first.
--
-- Why this order (the order a person has to work through them):
--   internal_error: the check itself failed (a bug, a closed store, a rule that
--     raised), so no finding about the certificate can be trusted; it is never
--     combined with another cause, and it ranks first so that causes.primary can
--     never put a client-facing cause in front of a failed check.
--   no_certificate, invalid_certificate, no_private_key: nothing else can be
--     judged until there is a readable certificate whose key the client holds.
--   chain_too_long, untrusted_root, missing_intermediate, intermediate_in_roots:
--     the path itself; until it reaches a trusted root, every finding about its
--     elements is moot (and a client under an untrusted CA needs another
--     certificate, not a renewal). intermediate_in_roots is the path's cause when
--     the client's chain reaches a certificate of the trust store that is not
--     self-signed and no issuer is found above it: the client sent what it had to,
--     the store is wrong (it is also named in `also`, or by an audit, when the
--     store holds such a certificate and the client is rejected for another cause).
--     session_chain_unknown: the OpenResty gate's missing_intermediate on a resumed
--     TLS session (the session does not carry the chain; a new connection does).
--   bad_signature, invalid_ca, wrong_purpose: the path exists but a link is not
--     valid, or the certificate is not for this use: each needs a reissue.
--   profile_violation (the strict profile's RFC 5280 / CA/B rules): also a reissue,
--     after the path and purpose problems OpenSSL finds.
--   revoked before expired / not_yet_valid: a revoked certificate must be
--     replaced, never renewed, so renewing it first would be wasted work.
--   revocation_unknown: the server's CRL upkeep; fixing it changes nothing for a
--     client that is otherwise rejected.
--   crl_bad_signature: a CRL that was ignored, named in `also` (or by an audit).
--   denied_by_rule: only meaningful for an otherwise valid client.  ok: last.
-- Not here: OCSP (its codes map to revocation_unknown but clientcert never asks).
local core = require "clientcert.core"
local textlib = require "clientcert.text"

local M = {}

local SERVER, CLIENT, CA = "server operator", "client owner", "certificate authority"

-- Where a verdict is read, and so what fixes it there (causes.resolution's
-- deployment): "server" (any TLS server; the default: nginx, Apache, IIS and
-- clientcert named as examples), "library" (clientcert used from Lua: the
-- policy's options and store), "gate" (the OpenResty gate: the policy file's
-- trust and options, nginx with ssl_verify_client optional_no_ca), "cli"
-- (clientcert check: its flags, or the --policy file), "iis" (IIS on Windows).
-- A step may carry a text of its own for a deployment (a field named after it),
-- or false there to leave the step out; otherwise its `step` is used (a `step`
-- of false: a step only for the deployments that give their own text).
local DEPLOYMENTS = { server = true, library = true, gate = true, cli = true, iis = true }
M.DEPLOYMENTS = { "server", "library", "gate", "cli", "iis" }

local CATALOGUE = {
  { id = "internal_error", status = 500, substatus = "500",
    title = "Internal error while checking the client certificate",
    message = "The server could not complete the check of the client certificate, so the client is not "
      .. "admitted. This says nothing about the certificate itself.",
    resolution = {
      { who = SERVER, step = "Look at the server log for this request: the verdict's error (and rule_error) "
        .. "field says what failed (a policy rule that raised, a closed trust store, a bug).",
        gate = "Look at nginx's error log for this request: the line \"clientcert: internal_error 500\" "
        .. "says in error= (and in the verdict's rule_error) what failed (a policy rule that raised, "
        .. "a gate option, a bug).",
        cli = "The Error: and Rule error: lines above say what failed (a rule of the --policy file that "
        .. "raised or ran out of budget: fix the rule; clientcert check-policy loads a policy without "
        .. "running its rule)." },
    } },
  { id = "no_certificate", status = 403, substatus = "403.7", title = "Client certificate required",
    message = "The client sent no certificate.",
    resolution = {
      { who = CLIENT, step = "Install a client certificate issued by a CA this server trusts, "
        .. "and select it when the browser or tool asks for one." },
      { who = SERVER, step = "If this resource does not need client certificates, make them optional or "
        .. "switch them off (nginx: ssl_verify_client optional or off; Apache: SSLVerifyClient optional or "
        .. "none; IIS: SSL Settings, Client certificates = Ignore or Accept; clientcert: mode = \"optional\" "
        .. "or \"off\").",
        library = "If this resource does not need client certificates, make them optional or switch them off: "
        .. "the policy's mode = \"optional\" or \"off\".",
        gate = "If this location does not need client certificates, make them optional or switch them off: "
        .. "mode = \"optional\" or \"off\" in the policy file, or no gate in that location.",
        cli = "If the server does not need client certificates there, make them optional or switch them off: "
        .. "mode = \"optional\" or \"off\" in a --policy file (the policy of --roots requires one).",
        iis = "If this site does not need client certificates, make them optional or switch them off: "
        .. "SSL Settings of the site, Client certificates = Accept or Ignore." },
      { who = SERVER, step = false,
        gate = "If the client says it sent one: nginx asks for a client certificate only when the server "
        .. "block has ssl_verify_client optional_no_ca (the gate's setting); check that it is set there." },
    } },
  { id = "invalid_certificate", status = 403, substatus = "403.16", title = "Client certificate is invalid",
    message = "{element} cannot be used: {error}.",
    resolution = {
      { who = CLIENT, step = "Request a new certificate from your CA: this one is malformed or uses "
        .. "an unsupported algorithm or extension." },
      { who = SERVER, step = "If the certificate is well-formed, check which OpenSSL error is reported "
        .. "and whether the verification options (strict mode, policies) are intended.",
        gate = "If the certificate is well-formed, check which OpenSSL error is reported and whether the "
        .. "policy file's verify options (flags such as x509_strict, policies) are intended.",
        cli = "If the certificate is well-formed, check which OpenSSL error is reported and whether the "
        .. "--policy file's verify options (flags such as x509_strict, policies) are intended." },
    } },
  { id = "no_private_key", status = 403, substatus = "403.7", title = "No private key for the client certificate",
    message = "The private key given does not belong to the certificate {subject} (serial {serial}): {error}.",
    resolution = {
      { who = CLIENT, step = "Import the certificate together with its private key (a PKCS#12 / .pfx file), "
        .. "or request a new certificate from the key you hold." },
      { who = CLIENT, step = "Check that the key file and the certificate file are a pair "
        .. "(clientcert match-key CERT KEY)." },
    } },
  { id = "chain_too_long", status = 403, substatus = "403.16", title = "Certificate chain too long",
    message = "The chain of {subject} is longer than the server allows ({error}).",
    resolution = {
      { who = SERVER, step = "If this CA hierarchy is legitimate, raise the maximum verification depth "
        .. "(nginx: ssl_verify_depth; clientcert: verify.max_depth).",
        library = "If this CA hierarchy is legitimate, raise the policy's verify.max_depth.",
        gate = "If this CA hierarchy is legitimate, raise verify.max_depth in the policy file, and nginx's "
        .. "ssl_verify_depth to at least as much.",
        cli = "If this CA hierarchy is legitimate, use a --policy file with a larger verify.max_depth.",
        iis = "IIS has no setting for the depth: if this CA hierarchy is legitimate, the clients need "
        .. "certificates from a shorter one." },
      { who = CLIENT, step = "Use a certificate from a shorter hierarchy." },
    } },
  { id = "untrusted_root", status = 403, substatus = "403.16", title = "Client's root CA is not trusted",
    message = "The chain of {subject} ends at {element}, which is not a root CA installed in the server's "
      .. "trusted roots ({error}).",
    resolution = {
      { who = SERVER, step = "If clients of this CA should be accepted, install its root CA certificate "
        .. "in the server's trusted root store (nginx: ssl_client_certificate or ssl_trusted_certificate; "
        .. "IIS: Trusted Root Certification Authorities of the computer account; clientcert: the policy's "
        .. "trust).",
        library = "If clients of this CA should be accepted, add its root CA certificate to the roots of "
        .. "the policy's trust (store:add_root, or clientcert.store{roots = ...}).",
        gate = "If clients of this CA should be accepted, add its root CA certificate to the roots of the "
        .. "policy file's trust (clientcert.store{roots = ...}), not to nginx: keep ssl_verify_client "
        .. "optional_no_ca without ssl_client_certificate, since a client that nginx refuses but the policy "
        .. "accepts is answered 500.",
        cli = "If clients of this CA should be accepted, give its root CA certificate with --roots (or add "
        .. "it to the roots of the --policy file's trust).",
        iis = "If clients of this CA should be accepted, install its root CA certificate in Trusted Root "
        .. "Certification Authorities of the computer account (certlm.msc)." },
      { who = SERVER, step = "If the root has the name of a trusted root but another key, it is forged "
        .. "or re-keyed: compare fingerprints before trusting anything." },
      { who = CLIENT, step = "Use a certificate issued by a CA that the server trusts." },
    } },
  { id = "missing_intermediate", status = 403, substatus = "403.16", title = "Intermediate CA missing",
    message = "The issuer of {element} ({element_issuer}) was neither sent by the client nor installed on "
      .. "the server, so no path to a trusted root can be built for {subject}.",
    resolution = {
      { who = CLIENT, step = "Send the full chain: configure the client to present its intermediate CA "
        .. "certificates with its own certificate.",
        cli = "Send the full chain: configure the client to present its intermediate CA certificates with "
        .. "its own certificate (to check that here: a PEM bundle of them after the certificate, or --chain)." },
      { who = SERVER, step = "If clients cannot send it, install the intermediate CA certificate in the "
        .. "server's intermediate store (not among the trusted roots).",
        library = "If clients cannot send it, add the intermediate CA certificate to the intermediates of "
        .. "the policy's trust (store:add_intermediate, or clientcert.store{intermediates = ...}), not to "
        .. "its roots.",
        gate = "If clients cannot send it, add the intermediate CA certificate to the intermediates of the "
        .. "policy file's trust (clientcert.store{intermediates = ...}), not to its roots.",
        cli = "If clients cannot send it, give the intermediate CA certificate with --intermediates (not "
        .. "--roots), or add it to the intermediates of the --policy file's trust.",
        iis = "If clients cannot send it, install the intermediate CA certificate in Intermediate "
        .. "Certification Authorities of the computer account (not in Trusted Root Certification "
        .. "Authorities)." },
    } },
  { id = "intermediate_in_roots", status = 403, substatus = "403.16",
    title = "Intermediate CA among the trusted roots",
    message = "The server's trusted root store holds {element}, which is not self-signed: an intermediate CA "
      .. "placed among the roots (issued by {element_issuer}).",
    resolution = {
      { who = SERVER, step = "Move every certificate that is not self-signed out of the trusted root store "
        .. "into the intermediate store, and install the self-signed root CA that issued it "
        .. "({element_issuer}) among the roots; some servers (IIS) reject every client otherwise.",
        library = "Add that certificate to the intermediates of the policy's trust (store:add_intermediate, "
        .. "or clientcert.store{intermediates = ...}) instead of its roots, and the self-signed root CA "
        .. "that issued it ({element_issuer}) to its roots.",
        gate = "In the policy file's trust, load that certificate as an intermediate (clientcert.store"
        .. "{intermediates = ...}) instead of a root, and add the self-signed root CA that issued it "
        .. "({element_issuer}) to its roots.",
        cli = "Give that certificate with --intermediates instead of --roots, and the self-signed root CA "
        .. "that issued it ({element_issuer}) with --roots (in a --policy file: the same in its trust).",
        iis = "Move that certificate from Trusted Root Certification Authorities to Intermediate "
        .. "Certification Authorities (computer account), and install the self-signed root CA that issued "
        .. "it ({element_issuer}) among the trusted roots: IIS rejects every client (403.16) while a "
        .. "certificate that is not self-signed is there." },
    } },
  { id = "session_chain_unknown", status = 403, substatus = "403.16",
    title = "Resumed TLS session: reconnect",
    message = "This TLS session was resumed, and a resumed session does not carry the CA certificates the "
      .. "client sent when it started; the server knows no intermediate CA that issued {subject} "
      .. "(issuer {issuer}), so no path to a trusted root can be built without a new connection.",
    resolution = {
      { who = CLIENT, step = "Reconnect: open a new TLS connection instead of resuming this session "
        .. "(restart the browser or tool, or clear its TLS session cache), sending the certificate "
        .. "with its intermediate CA certificates." },
      { who = SERVER, step = "Give every gated location the same chain_dict (a lua_shared_dict): the "
        .. "intermediates that accepted clients proved in full handshakes are then shared by all "
        .. "workers, and a resumed session of any client of a known CA is checked without reconnecting." },
    } },
  { id = "bad_signature", status = 403, substatus = "403.16", title = "Signature in the chain does not verify",
    message = "The signature of {element} does not verify with its issuer's key ({error}).",
    resolution = {
      { who = CLIENT, step = "The certificate was altered or was not issued by the CA it names: "
        .. "obtain a fresh copy from your CA." },
      { who = SERVER, step = "Check that the CA certificate installed on the server is the right one "
        .. "(compare its fingerprint with the CA's published one).",
        gate = "Check that the CA certificates of the policy file's trust are the right ones (clientcert "
        .. "info FILE prints each one's sha256; compare with the CA's published fingerprints).",
        cli = "Check that the CA certificates given (--roots, --intermediates) are the right ones (clientcert "
        .. "info FILE prints each one's sha256; compare with the CA's published fingerprints)." },
    } },
  { id = "invalid_ca", status = 403, substatus = "403.16", title = "Issuer is not allowed to issue certificates",
    message = "{element} issued a certificate in the chain of {subject} but may not: {error}.",
    resolution = {
      { who = CLIENT, step = "Obtain a certificate from a real CA: a certificate without CA:TRUE, "
        .. "keyCertSign or a large enough pathLen cannot issue further certificates." },
      { who = SERVER, step = "If the CA is yours, reissue the CA certificate with basicConstraints CA:TRUE, "
        .. "keyCertSign and a pathLen that allows this depth." },
    } },
  { id = "wrong_purpose", status = 403, substatus = "403.16", title = "Certificate not valid for client authentication",
    message = "{element} is not allowed for TLS client authentication ({error}); extended key usage: {eku}.",
    resolution = {
      { who = CLIENT, step = "Request a certificate whose Extended Key Usage includes Client Authentication "
        .. "(1.3.6.1.5.5.7.3.2), issued by CAs whose own EKU (if any) allows it." },
      { who = SERVER, step = "If the certificate is meant for this use, check the required purpose "
        .. "(clientcert: verify.purpose).",
        library = "If the certificate is meant for this use, check the policy's verify.purpose.",
        gate = "If the certificate is meant for this use, check verify.purpose in the policy file.",
        cli = "If the certificate is meant for this use, check the purpose asked for (--purpose, or "
        .. "verify.purpose in the --policy file).",
        iis = false },
    } },
  { id = "profile_violation", status = 403, substatus = "403.16",
    title = "Client certificate breaks the strict certificate profile",
    message = "{element} does not follow the strict profile (RFC 5280 and CA/Browser Forum rules) this server "
      .. "requires: {error}.",
    resolution = {
      { who = CA, step = "Reissue the certificate following the rule named in the message (the RFC 5280 or "
        .. "CA/Browser Forum section is given)." },
      { who = SERVER, step = "If such certificates must be accepted, verify with the default profile "
        .. "(profile = \"default\", or no --profile).",
        cli = "If such certificates must be accepted, run without --profile strict." },
    } },
  { id = "revoked", status = 403, substatus = "403.13", title = "Client certificate revoked",
    message = "{element} (serial {element_serial}) was revoked by its issuer on {revoked_at}, reason: {reason}.",
    resolution = {
      { who = CLIENT, step = "Stop using this certificate and request a new one from your CA." },
      { who = SERVER, step = "If the revocation is a mistake, the CA must issue a new CRL without it "
        .. "(a revoked serial cannot be un-revoked except from certificateHold)." },
    } },
  { id = "expired", status = 403, substatus = "403.17", title = "Certificate expired",
    message = "{element} expired on {element_not_after} (checked at {time}).",
    resolution = {
      { who = CLIENT, step = "Renew the certificate with your CA and install the new one with its key." },
      { who = SERVER, step = "If an intermediate or root CA expired, install its renewed certificate "
        .. "and ask clients to send the renewed chain.",
        library = "If an intermediate or root CA expired, put its renewed certificate in the policy's trust "
        .. "and ask clients to send the renewed chain.",
        gate = "If an intermediate or root CA expired, put its renewed certificate in the policy file's "
        .. "trust and ask clients to send the renewed chain.",
        cli = "If an intermediate or root CA expired, give its renewed certificate (--roots, "
        .. "--intermediates, or the --policy file's trust) and the client's renewed chain." },
      { who = SERVER, step = "Check the server clock if the dates look right.",
        cli = "Check the time of the check (now, or --time) if the dates look right." },
    } },
  { id = "not_yet_valid", status = 403, substatus = "403.17", title = "Certificate not yet valid",
    message = "{element} is not valid before {element_not_before} (checked at {time}).",
    resolution = {
      { who = CLIENT, step = "Wait until the certificate's start date, or ask your CA why it was "
        .. "issued with a future date." },
      { who = SERVER, step = "Check the server clock (and time zone): a clock in the past rejects "
        .. "new certificates.",
        cli = "Check the time of the check (now, or --time): a time in the past rejects new certificates." },
    } },
  { id = "revocation_unknown", status = 403, substatus = "403.16", title = "Revocation status unknown",
    message = "The revocation status of {element} cannot be checked: {error}.",
    resolution = {
      { who = SERVER, step = "Install a current CRL for every CA in the chain, and refresh CRLs before "
        .. "their nextUpdate (a scheduled download from each CA's CRL distribution point).",
        library = "Add a current CRL for every CA in the chain to the policy's trust (store:add_crl, or "
        .. "clientcert.store{crls = ...}), and refresh CRLs before their nextUpdate.",
        gate = "Give the policy file's trust a current CRL for every CA in the chain (clientcert.store"
        .. "{crls = ...}), and refresh each before its nextUpdate (download to a temporary file, then mv "
        .. "it over the old one; gate.watch reloads the policy when a file changes).",
        cli = "Give a current CRL for every CA in the chain (--crl, or in the --policy file's trust)." },
      { who = SERVER, step = "If revocation need not be checked for this CA, set verify.crl_missing = "
        .. "\"allow\" or verify.crl = \"leaf\" / \"none\" knowingly.",
        gate = "If revocation need not be checked for this CA, set verify.crl_missing = \"allow\" or "
        .. "verify.crl = \"leaf\" / \"none\" in the policy file knowingly.",
        cli = "If revocation need not be checked for this CA, check without --crl, or set "
        .. "verify.crl_missing = \"allow\" or verify.crl = \"leaf\" / \"none\" in the --policy file.",
        iis = false },
      { who = SERVER, step = "When the error names a URL (OCSP responder or CRL distribution point), check that "
        .. "this server reaches it (firewall, outbound HTTP proxy, nginx's resolver for host names), or accept "
        .. "clients when no source answers knowingly: revocation = {unavailable = \"accept\"} (soft-fail).",
        cli = "When the error names a URL (OCSP responder or CRL distribution point), check that this machine "
        .. "reaches it (firewall, outbound HTTP proxy), or accept when no source answers knowingly: --soft-fail.",
        iis = false },
      { who = CA, step = "Publish a fresh CRL before the current one's nextUpdate, and keep the OCSP responder "
        .. "answering for every certificate issued, signed by the CA or by a responder certificate it issued "
        .. "with id-kp-OCSPSigning." },
    } },
  -- never the primary cause when another problem exists: named in also and in audits
  { id = "crl_bad_signature", status = 403, substatus = "403.16", title = "A CRL with a bad signature was ignored",
    message = "A CRL in the server's store claims to be issued by {element}, but that CA's key did not sign "
      .. "it: it was ignored, and revokes nothing.",
    resolution = {
      { who = SERVER, step = "Remove or replace the CRL file that claims {element}: it was not signed by that "
        .. "CA's key. Download the CA's current CRL again from its distribution point and check it with "
        .. "openssl crl -CAfile <the CA certificate> -noout." },
    } },
  { id = "denied_by_rule", status = 403, substatus = "403.12", title = "Client certificate denied by policy",
    message = "The certificate {subject} (issuer {issuer}) is valid but not allowed here: {rule_reason}.",
    resolution = {
      { who = SERVER, step = "If this client should be allowed, add it to the policy's allow list "
        .. "(by issuer, subject, SAN or fingerprint) or change the rule.",
        gate = "If this client should be allowed, add it to the allow list of the policy file "
        .. "(by issuer, subject, SAN or fingerprint) or change its rule.",
        cli = "If this client should be allowed, add it to the allow list of the --policy file "
        .. "(by issuer, subject, SAN or fingerprint) or change its rule." },
      { who = CLIENT, step = "Ask the server operator for access, quoting the certificate fingerprint "
        .. "{fingerprint}." },
    } },
  { id = "ok", status = 200, substatus = "200", title = "Client certificate accepted",
    message = "The client certificate {subject} (issuer {issuer}) is accepted.",
    resolution = {} },
}

local BY_ID, RANK = {}, {}
for i, c in ipairs(CATALOGUE) do
  BY_ID[c.id], RANK[c.id] = c, i
end

-- X509_V_ERR_* name -> cause id. Keyed by name, not number: the numbers are
-- whatever the OpenSSL in use defines (clientcert.core.verify_codes and
-- verify_code_names map between them). Every X509_V_ERR_* of OpenSSL 3.0, and
-- those added since (up to IDP_ONLY_USER_CA_ATTR_EXCLUSIVE, 104), is listed.
-- A name this table lacks still maps to invalid_certificate (a rejection, never
-- ok); causes.unmapped() and spec/codes_spec.lua list the running OpenSSL's
-- codes that have no name or no entry here.
local CODES = {
  X509_V_OK = "ok",
  X509_V_ERR_UNSPECIFIED = "invalid_certificate",
  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = "missing_intermediate",
  X509_V_ERR_UNABLE_TO_GET_CRL = "revocation_unknown",
  X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE = "bad_signature",
  X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE = "revocation_unknown",
  X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY = "bad_signature",
  X509_V_ERR_CERT_SIGNATURE_FAILURE = "bad_signature",
  X509_V_ERR_CRL_SIGNATURE_FAILURE = "revocation_unknown",
  X509_V_ERR_CERT_NOT_YET_VALID = "not_yet_valid",
  X509_V_ERR_CERT_HAS_EXPIRED = "expired",
  X509_V_ERR_CRL_NOT_YET_VALID = "revocation_unknown",
  X509_V_ERR_CRL_HAS_EXPIRED = "revocation_unknown",
  X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD = "invalid_certificate",
  X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD = "invalid_certificate",
  X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD = "revocation_unknown",
  X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD = "revocation_unknown",
  X509_V_ERR_OUT_OF_MEM = "invalid_certificate",
  X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = "untrusted_root",
  X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = "untrusted_root",
  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = "missing_intermediate",
  X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = "missing_intermediate",
  X509_V_ERR_CERT_CHAIN_TOO_LONG = "chain_too_long",
  X509_V_ERR_CERT_REVOKED = "revoked",
  X509_V_ERR_NO_ISSUER_PUBLIC_KEY = "bad_signature",
  X509_V_ERR_PATH_LENGTH_EXCEEDED = "invalid_ca",
  X509_V_ERR_INVALID_PURPOSE = "wrong_purpose",
  X509_V_ERR_CERT_UNTRUSTED = "untrusted_root",                -- root not trusted for this purpose
  X509_V_ERR_CERT_REJECTED = "untrusted_root",                 -- root marked to reject this purpose
  X509_V_ERR_SUBJECT_ISSUER_MISMATCH = "invalid_certificate",
  X509_V_ERR_AKID_SKID_MISMATCH = "invalid_certificate",
  X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH = "invalid_certificate",
  X509_V_ERR_KEYUSAGE_NO_CERTSIGN = "invalid_ca",
  X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER = "revocation_unknown",
  X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION = "invalid_certificate",
  X509_V_ERR_KEYUSAGE_NO_CRL_SIGN = "revocation_unknown",
  X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION = "revocation_unknown",
  X509_V_ERR_INVALID_NON_CA = "invalid_ca",
  X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED = "invalid_ca",
  X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE = "wrong_purpose",
  X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED = "invalid_certificate",
  X509_V_ERR_INVALID_EXTENSION = "invalid_certificate",
  X509_V_ERR_INVALID_POLICY_EXTENSION = "invalid_certificate",
  X509_V_ERR_NO_EXPLICIT_POLICY = "invalid_certificate",
  X509_V_ERR_DIFFERENT_CRL_SCOPE = "revocation_unknown",
  X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE = "invalid_certificate",
  X509_V_ERR_UNNESTED_RESOURCE = "invalid_certificate",
  X509_V_ERR_PERMITTED_VIOLATION = "invalid_ca",               -- name constraints
  X509_V_ERR_EXCLUDED_VIOLATION = "invalid_ca",
  X509_V_ERR_SUBTREE_MINMAX = "invalid_ca",
  X509_V_ERR_APPLICATION_VERIFICATION = "invalid_certificate",
  X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE = "invalid_ca",
  X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX = "invalid_ca",
  X509_V_ERR_UNSUPPORTED_NAME_SYNTAX = "invalid_certificate",
  X509_V_ERR_CRL_PATH_VALIDATION_ERROR = "revocation_unknown",
  X509_V_ERR_PATH_LOOP = "chain_too_long",
  X509_V_ERR_SUITE_B_INVALID_VERSION = "invalid_certificate",
  X509_V_ERR_SUITE_B_INVALID_ALGORITHM = "invalid_certificate",
  X509_V_ERR_SUITE_B_INVALID_CURVE = "invalid_certificate",
  X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM = "invalid_certificate",
  X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED = "invalid_certificate",
  X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256 = "invalid_certificate",
  X509_V_ERR_HOSTNAME_MISMATCH = "invalid_certificate",
  X509_V_ERR_EMAIL_MISMATCH = "invalid_certificate",
  X509_V_ERR_IP_ADDRESS_MISMATCH = "invalid_certificate",
  X509_V_ERR_DANE_NO_MATCH = "invalid_certificate",
  X509_V_ERR_EE_KEY_TOO_SMALL = "invalid_certificate",
  X509_V_ERR_CA_KEY_TOO_SMALL = "invalid_ca",
  X509_V_ERR_CA_MD_TOO_WEAK = "bad_signature",
  X509_V_ERR_INVALID_CALL = "invalid_certificate",
  X509_V_ERR_STORE_LOOKUP = "invalid_certificate",
  X509_V_ERR_NO_VALID_SCTS = "invalid_certificate",
  X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION = "invalid_certificate",
  X509_V_ERR_OCSP_VERIFY_NEEDED = "revocation_unknown",
  X509_V_ERR_OCSP_VERIFY_FAILED = "revocation_unknown",
  X509_V_ERR_OCSP_CERT_UNKNOWN = "revocation_unknown",
  X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM = "invalid_certificate",
  X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH = "bad_signature",
  X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY = "invalid_certificate",
  X509_V_ERR_INVALID_CA = "invalid_ca",
  X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA = "invalid_certificate",
  X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN = "invalid_ca",
  X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA = "invalid_certificate",
  X509_V_ERR_ISSUER_NAME_EMPTY = "invalid_certificate",
  X509_V_ERR_SUBJECT_NAME_EMPTY = "invalid_certificate",
  X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER = "invalid_certificate",
  X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER = "invalid_certificate",
  X509_V_ERR_EMPTY_SUBJECT_ALT_NAME = "invalid_certificate",
  X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL = "invalid_certificate",
  X509_V_ERR_CA_BCONS_NOT_CRITICAL = "invalid_ca",
  X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL = "invalid_certificate",
  X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL = "invalid_certificate",
  X509_V_ERR_CA_CERT_MISSING_KEY_USAGE = "invalid_ca",
  X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3 = "invalid_certificate",
  X509_V_ERR_EC_KEY_EXPLICIT_PARAMS = "invalid_certificate",
  -- added after OpenSSL 3.0
  X509_V_ERR_RPK_UNTRUSTED = "untrusted_root",                 -- raw public key not trusted
  X509_V_ERR_OCSP_RESP_INVALID = "revocation_unknown",
  X509_V_ERR_OCSP_SIGNATURE_FAILURE = "revocation_unknown",
  X509_V_ERR_OCSP_NOT_YET_VALID = "revocation_unknown",
  X509_V_ERR_OCSP_HAS_EXPIRED = "revocation_unknown",
  X509_V_ERR_OCSP_NO_RESPONSE = "revocation_unknown",
  X509_V_ERR_CRL_VERIFY_FAILED = "revocation_unknown",
  X509_V_ERR_EMPTY_AUTHORITY_KEY_IDENTIFIER = "invalid_certificate",
  X509_V_ERR_AKID_ISSUER_SERIAL_NOT_PAIRED = "invalid_certificate",
  X509_V_ERR_IDP_ONLY_USER_CA_ATTR_EXCLUSIVE = "revocation_unknown", -- CRL issuing distribution point
}
M.CODES = CODES

-- name = code_name(code): the X509_V_ERR_* name of a verify code given as its
-- name or as this OpenSSL's number, or nil.
local function code_name(code)
  if type(code) == "string" then return CODES[code] and code or nil end
  if type(code) == "number" then return core.verify_code_names[code] end
  return nil
end

--- id = causes.from_code(code): the cause of an OpenSSL verify code, given by
-- name ("X509_V_ERR_CERT_REVOKED") or by this OpenSSL's number. A code with no
-- name or no entry -> invalid_certificate (a rejection); only X509_V_OK is ok.
function M.from_code(code)
  local name = code_name(code)
  return name and CODES[name] or "invalid_certificate"
end

--- list = causes.unmapped([max]): the verify codes the running OpenSSL knows
-- (0..max, default 1000: those X509_verify_cert_error_string describes) that
-- clientcert.core exports no name for or that have no entry in the catalogue,
-- as strings "<code> <name or '(no name)'>: <OpenSSL's text>". Empty when every
-- code is mapped (spec/codes_spec.lua requires that).
function M.unmapped(max)
  local unknown = core.verify_error_string(-1)
  local out = {}
  for n = 0, max or 1000 do
    local text = core.verify_error_string(n)
    if text ~= unknown then
      local name = core.verify_code_names[n]
      if not name or not CODES[name] then
        out[#out + 1] = ("%d %s: %s"):format(n, name or "(no name)", text)
      end
    end
  end
  return out
end

--- id = causes.for_problem(problem, chain[, root_subjects]): the cause of one problem
-- of a verify result, refining the per-code default with facts of the built path
-- (chain elements as store:verify reports them; root_subjects: set of the RFC 4514
-- subjects of the store's trusted roots):
-- problem.code_name is the X509_V_ERR_* name (store:verify sets it); a problem
-- with only a numeric code is named through clientcert.core.verify_code_names.
-- * "issuer not found" (UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
--   UNABLE_TO_VERIFY_LEAF_SIGNATURE) for a self-signed element: that element is a
--   root the server does not trust -> untrusted_root;
-- * "issuer not found" for an element whose issuer has the name of a trusted root:
--   a root with that name exists but did not sign it (a forged root, or the CA
--   re-keyed its root) -> untrusted_root;
-- * "issuer not found" for an element of the trust store (trusted) that is not
--   self-signed: the client's chain reached the store, whose certificate there is
--   an intermediate CA put among the roots -> intermediate_in_roots;
-- * a signature failure (CERT_SIGNATURE_FAILURE, UNABLE_TO_DECRYPT_CERT_SIGNATURE)
--   where the issuer is the trust anchor: the chain names a trusted root that did
--   not sign it -> untrusted_root, unless the element's authority key identifier
--   equals the anchor's subject key identifier (the element claims that very key:
--   it was altered after issue -> bad_signature). Elements carry authority_key_id
--   and subject_key_id (hex) when the certificate has them; without them (an
--   element without AKID, an anchor without SKID) it stays untrusted_root.
-- Any other problem keeps its per-code cause; X509_V_OK is the only "ok".
local SIGNATURE_FAILS = {
  X509_V_ERR_CERT_SIGNATURE_FAILURE = true, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE = true,
}
function M.for_problem(p, chain, root_subjects)
  local name = code_name(p.code_name) or code_name(p.code)
  local id = M.from_code(name)
  local depth = p.depth or 0
  local el = chain and chain[math.min(depth + 1, #chain)]
  if id == "bad_signature" and SIGNATURE_FAILS[name] and chain then
    local issuer = chain[depth + 2]
    if issuer and issuer.trusted then
      local el_akid = chain[depth + 1] and chain[depth + 1].authority_key_id
      if el_akid and issuer.subject_key_id and el_akid == issuer.subject_key_id then return id end
      return "untrusted_root"
    end
  elseif id == "missing_intermediate" and el then
    if el.self_signed then return "untrusted_root" end
    if el.trusted then return "intermediate_in_roots" end
    if root_subjects and el.issuer and root_subjects[el.issuer] then return "untrusted_root" end
  end
  return id
end

--- cause = causes.get(id): the catalogue entry (a table; do not modify), or nil.
function M.get(id) return BY_ID[id] end

--- ids = causes.list(): every cause id, in precedence order.
function M.list()
  local out = {}
  for i, c in ipairs(CATALOGUE) do out[i] = c.id end
  return out
end

--- n = causes.rank(id): precedence (1 = fix first); unknown ids rank last.
function M.rank(id) return RANK[id] or #CATALOGUE + 1 end

local function id_of(x)
  if type(x) == "table" then return x.cause end
  return x
end

--- ids = causes.order(list): the cause ids of list (ids, or problems with a
-- `cause` field) without repeats, by precedence: ids[1] is the primary cause.
-- Equal ranks keep their order in list (only unknown ids can be equal).
function M.order(list)
  local seen, out, pos = {}, {}, {}
  for i, x in ipairs(list) do
    local id = id_of(x)
    if id ~= nil and not seen[id] then
      seen[id] = true
      out[#out + 1] = id
      pos[id] = i
    end
  end
  table.sort(out, function(a, b)
    local ra, rb = M.rank(a), M.rank(b)
    if ra ~= rb then return ra < rb end
    return pos[a] < pos[b]
  end)
  return out
end

--- id = causes.primary(list): "the" cause of a rejection with these problems
-- (cause ids, or problems with a `cause` field): the one of highest precedence;
-- nil for an empty list. store:verify's result.cause and policy:check's cause
-- both come from here, so the two always agree.
function M.primary(list)
  return M.order(list)[1]
end

-- "YYYY-MM-DDTHH:MM:SSZ" for integer Unix seconds, by the one calendar of
-- clientcert (core.time_format: no os.date, which is locale- and
-- time_t-dependent); "unknown date" for anything that is not such a time.
local function iso(secs)
  if type(secs) ~= "number" then return "unknown date" end
  return core.time_format(secs) or "unknown date"
end
M.iso = iso

-- A fact as it goes into a message (sent to the client and logged): escaped by
-- text.escape (no control, bidi or invalid byte reaches a terminal or a log)
-- and cut at FACT_MAX bytes with a visible marker.
local FACT_MAX = 256
local function printable(s)
  return textlib.escape(textlib.cut(tostring(s), FACT_MAX))
end

--- text = causes.render(id, facts): the cause's message with facts filled in.
-- facts: subject, issuer, serial, fingerprint, eku, time, error, rule_reason,
-- and for the failing element: element (described with its role), element_issuer,
-- element_serial, element_not_before, element_not_after, revoked_at, reason.
function M.render(id, facts)
  local c = BY_ID[id] or BY_ID.invalid_certificate
  facts = facts or {}
  local text = c.message:gsub("{([%w_]+)}", function(k)
    local v = facts[k]
    if v == nil then return "(unknown)" end
    if k == "time" or k == "revoked_at" or k:match("not_after$") or k:match("not_before$") then
      return iso(v)
    end
    if type(v) == "table" then
      return #v > 0 and printable(table.concat(v, ", ")) or "(none)"
    end
    return printable(v)
  end)
  return (text:gsub("^%l", string.upper))
end

--- The client's side (clientcert.probe): what a client learns by probing a live
-- server, as findings. Each finding names the catalogue cause the server would
-- give (cause; nil when the finding is about no client certificate at all), a
-- message written for the client's owner, and steps that say who must act.
-- Facts: target, issuer, count, size, accepted, key, signature, sigalgs, alert (its label:
-- "certificate_expired (45)", "255 (unknown)"),
-- number, title, status_line, first_line, phase.
local CLIENT_SIDE = {
  not_requested = { cause = "no_certificate",
    message = "The server did not ask for a client certificate on {target}, so no browser or tool sends "
      .. "one ({status_line}).",
    resolution = {
      { who = SERVER, step = "If this server or path needs client certificates, make it ask for them "
        .. "(nginx: ssl_verify_client on or optional; IIS: SSL Settings, Client certificates = Require or "
        .. "Accept; Apache: SSLVerifyClient require)." },
      { who = CLIENT, step = "Nothing to change on the client: a certificate is sent only when the server "
        .. "asks. Probe the host name and path that need it (--servername, --path)." },
    } },
  issuer_not_listed = { cause = "untrusted_root",
    message = "Your certificate's issuer {issuer} is not among the {count} CAs this server accepts (nor is "
      .. "any CA of its chain), so a browser or tool will not offer it.",
    resolution = {
      { who = SERVER, step = "If clients of this CA should be accepted, trust its root CA and send it in the "
        .. "list of acceptable CAs (nginx: ssl_client_certificate; IIS: Trusted Root Certification "
        .. "Authorities of the computer account, or the binding's Client Certificate Trust store)." },
      { who = CLIENT, step = "Use a certificate issued under one of: {accepted}." },
    } },
  key_not_accepted = { cause = "invalid_certificate",
    message = "Your certificate's key ({key}) can make none of the signatures this server accepts from "
      .. "clients ({sigalgs}).",
    resolution = {
      { who = CLIENT, step = "Request a certificate with a key type the server accepts (one of: {sigalgs})." },
      { who = SERVER, step = "If such clients should be accepted, allow a signature algorithm for this key "
        .. "type (OpenSSL servers: ClientSignatureAlgorithms / SignatureAlgorithms, e.g. nginx ssl_conf_command)." },
    } },
  signature_not_accepted = { cause = "invalid_certificate",
    message = "Your certificate is signed with {signature}, which is not among the signature algorithms this "
      .. "server lists ({sigalgs}): clients that follow RFC 8446 may not offer it, and strict servers refuse it.",
    resolution = {
      { who = CLIENT, step = "Request a certificate signed with an algorithm the server accepts." },
      { who = SERVER, step = "If such clients should be accepted, allow that signature algorithm (OpenSSL "
        .. "servers: ClientSignatureAlgorithms / SignatureAlgorithms)." },
    } },
  alert = {
    message = "The server refused the client with TLS alert {alert}{phase}: {title}.",
    resolution = nil },      -- the catalogue cause's own steps
  alert_other = {
    message = "The server ended the connection with TLS alert {alert}{phase}, which is not "
      .. "about the client certificate.",
    resolution = {
      { who = SERVER, step = "Check the server's TLS settings (protocol versions, ciphers, server name) "
        .. "and its log for this connection." },
    } },
  http_refused = {
    message = "The server refused the request: {status_line}: {first_line}.",
    resolution = nil,        -- the catalogue cause's own steps, when the answer names one
    fallback = {
      { who = SERVER, step = "Look at the server log for this request: it says why this client was refused." },
    } },
  ca_list_too_large = { cause = "no_certificate",
    message = "The server's list of acceptable CAs is {size} bytes ({count} names), over the {schannel_limit} "
      .. "bytes that Windows (Schannel) clients accept: those clients send no certificate at all.",
    resolution = {
      { who = SERVER, step = "Send fewer CA names: only the CAs that issue client certificates (nginx: "
        .. "ssl_client_certificate with only those, ssl_trusted_certificate for the rest; IIS: a Client "
        .. "Certificate Trust store with only those, or SendTrustedIssuerList = 0)." },
    } },
  ca_list_empty = {
    message = "The server asked for a certificate but named no CA: a client may offer any certificate it has "
      .. "(a browser lets its user choose).",
    resolution = {} },
}

--- f = causes.client_side(kind, facts[, cause]): a finding of clientcert.probe,
-- {kind, cause, title, message, resolution}: kind is one of not_requested,
-- issuer_not_listed, key_not_accepted, signature_not_accepted, alert,
-- alert_other, http_refused, ca_list_too_large, ca_list_empty; cause overrides
-- the kind's own (alert and http_refused take the cause the server's answer
-- names). Facts are escaped and cut like the catalogue's.
function M.client_side(kind, facts, cause)
  local k = CLIENT_SIDE[kind]
  if not k then error("clientcert.causes.client_side: unknown kind " .. tostring(kind), 2) end
  facts = facts or {}
  cause = cause or k.cause
  local function fill(s)
    return (s:gsub("{([%w_]+)}", function(key)
      local v = facts[key]
      -- the one Schannel limit, clientcert.audit's (read here: audit may require this module)
      if v == nil and key == "schannel_limit" then v = require("clientcert.audit").SCHANNEL_LIMIT end
      if v == nil then return key == "phase" and "" or "(unknown)" end
      if type(v) == "table" then return #v > 0 and printable(table.concat(v, ", ")) or "(none)" end
      return printable(v)
    end))
  end
  local steps = {}
  if k.resolution then
    for i, r in ipairs(k.resolution) do steps[i] = { who = r.who, step = fill(r.step) } end
  elseif cause then
    steps = M.resolution(cause, facts)
  else
    for i, r in ipairs(k.fallback or {}) do steps[i] = { who = r.who, step = fill(r.step) } end
  end
  return { kind = kind, cause = cause, title = cause and BY_ID[cause] and BY_ID[cause].title or nil,
           message = fill(k.message), resolution = steps }
end

--- steps = causes.resolution(id, facts[, deployment]): a fresh list of {who, step}
-- with facts filled in, worded for where the verdict is read: deployment is
-- "server" (default), "library", "gate", "cli" or "iis" (see DEPLOYMENTS above);
-- steps that do not apply there are left out. Each step reads on its own (none
-- starts with "Or"), so a reader shown only some of them (the gate's client,
-- its operator) can follow it; number them after choosing which to show.
function M.resolution(id, facts, deployment)
  if deployment == nil then deployment = "server" end
  if not DEPLOYMENTS[deployment] then
    error(("clientcert.causes.resolution: deployment must be one of %s, got %s")
      :format(table.concat(M.DEPLOYMENTS, ", "), tostring(deployment)), 2)
  end
  local c = BY_ID[id] or BY_ID.invalid_certificate
  local out = {}
  for _, r in ipairs(c.resolution) do
    local text = r[deployment]
    if text == nil then text = r.step end
    if text then
      out[#out + 1] = { who = r.who, step = (text:gsub("{([%w_]+)}", function(k)
        return facts and facts[k] and printable(facts[k]) or "(unknown)"
      end)) }
    end
  end
  return out
end

return M
