-- The verdict of every NIST PKITS run (spec/conformance/pkits_spec.lua): "ok" or the
-- cause and the first problem's code for clientcert, the verify error's name for OpenSSL.
-- Written by CLIENTCERT_PKITS_RECORD=spec/conformance/pkits_expected.lua; a change is reviewed.
-- One line per run: id | client | client_allow | client_pkits | openssl | openssl_pkits
-- ("=": the verdict of the mode before it; "-": no run in that mode; see pkits.recorded).
-- luacheck: no max string line length
return require("conformance.pkits").recorded [[
4.1.1 | ok | = | = | X509_V_OK | =
4.1.2 | bad_signature X509_V_ERR_CERT_SIGNATURE_FAILURE | = | = | X509_V_ERR_CERT_SIGNATURE_FAILURE | =
4.1.3 | bad_signature X509_V_ERR_CERT_SIGNATURE_FAILURE | = | = | X509_V_ERR_CERT_SIGNATURE_FAILURE | =
4.1.4 | ok | = | = | X509_V_OK | =
4.1.5 | missing_intermediate X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | = | = | X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | =
4.1.6 | bad_signature X509_V_ERR_CERT_SIGNATURE_FAILURE | = | = | X509_V_ERR_CERT_SIGNATURE_FAILURE | =
4.2.1 | not_yet_valid X509_V_ERR_CERT_NOT_YET_VALID | = | = | X509_V_ERR_CERT_NOT_YET_VALID | =
4.2.2 | not_yet_valid X509_V_ERR_CERT_NOT_YET_VALID | = | = | X509_V_ERR_CERT_NOT_YET_VALID | =
4.2.3 | ok | = | = | X509_V_OK | =
4.2.4 | ok | = | = | X509_V_OK | =
4.2.5 | expired X509_V_ERR_CERT_HAS_EXPIRED | = | = | X509_V_ERR_CERT_HAS_EXPIRED | =
4.2.6 | expired X509_V_ERR_CERT_HAS_EXPIRED | = | = | X509_V_ERR_CERT_HAS_EXPIRED | =
4.2.7 | expired X509_V_ERR_CERT_HAS_EXPIRED | = | = | X509_V_ERR_CERT_HAS_EXPIRED | =
4.2.8 | ok | = | = | X509_V_OK | =
4.3.1 | missing_intermediate X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | = | = | X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | =
4.3.2 | missing_intermediate X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | = | = | X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY | =
4.3.3 | ok | = | = | X509_V_OK | =
4.3.4 | ok | = | = | X509_V_OK | =
4.3.5 | ok | = | = | X509_V_OK | =
4.3.6 | ok | = | = | X509_V_OK | =
4.3.7 | ok | = | = | X509_V_OK | =
4.3.8 | ok | = | = | X509_V_OK | =
4.3.9 | ok | = | = | X509_V_OK | =
4.3.10 | ok | = | = | X509_V_OK | =
4.3.11 | ok | = | = | X509_V_OK | =
4.4.1 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | ok | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.4.2 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.4.3 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.4.4 | revocation_unknown X509_V_ERR_CRL_SIGNATURE_FAILURE | = | = | X509_V_ERR_CRL_SIGNATURE_FAILURE | =
4.4.5 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.4.6 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | ok | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.4.7 | ok | = | = | X509_V_OK | =
4.4.8 | revoked X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | = | = | X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | =
4.4.9 | revoked X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | = | = | X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | =
4.4.10 | revocation_unknown X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | = | = | X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION | =
4.4.11 | revocation_unknown X509_V_ERR_CRL_HAS_EXPIRED | = | = | X509_V_ERR_CRL_HAS_EXPIRED | =
4.4.12 | revocation_unknown X509_V_ERR_CRL_HAS_EXPIRED | = | = | X509_V_ERR_CRL_HAS_EXPIRED | =
4.4.13 | ok | = | = | X509_V_OK | =
4.4.14 | ok | = | = | X509_V_OK | =
4.4.15 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.4.16 | ok | = | = | X509_V_OK | =
4.4.17 | ok | = | = | X509_V_OK | =
4.4.18 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.4.19 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.4.20 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.4.21 | revocation_unknown X509_V_ERR_CRL_PATH_VALIDATION_ERROR | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CRL_PATH_VALIDATION_ERROR
4.5.1 | ok | = | = | X509_V_OK | =
4.5.2 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.5.3 | ok | = | = | X509_V_OK | =
4.5.4 | ok | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_OK
4.5.5 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_ERR_CERT_REVOKED
4.5.6 | ok | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_OK
4.5.7 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_ERR_CERT_REVOKED
4.5.8 | invalid_ca X509_V_ERR_INVALID_CA | = | = | X509_V_ERR_INVALID_CA | =
4.6.1 | invalid_ca X509_V_ERR_INVALID_CA | = | invalid_certificate X509_V_ERR_INVALID_CA | X509_V_ERR_INVALID_CA | =
4.6.2 | invalid_ca X509_V_ERR_INVALID_CA | = | invalid_certificate X509_V_ERR_INVALID_CA | X509_V_ERR_INVALID_CA | =
4.6.3 | invalid_ca X509_V_ERR_INVALID_CA | = | invalid_certificate X509_V_ERR_INVALID_CA | X509_V_ERR_INVALID_CA | =
4.6.4 | ok | = | invalid_ca X509_V_ERR_CA_BCONS_NOT_CRITICAL | X509_V_OK | X509_V_ERR_CA_BCONS_NOT_CRITICAL
4.6.5 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.6 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.7 | ok | = | = | X509_V_OK | =
4.6.8 | ok | = | = | X509_V_OK | =
4.6.9 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.10 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.11 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.12 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.13 | ok | = | = | X509_V_OK | =
4.6.14 | ok | = | = | X509_V_OK | =
4.6.15 | ok | = | = | X509_V_OK | =
4.6.16 | invalid_ca X509_V_ERR_PATH_LENGTH_EXCEEDED | = | = | X509_V_ERR_PATH_LENGTH_EXCEEDED | =
4.6.17 | ok | = | = | X509_V_OK | =
4.7.1 | invalid_ca X509_V_ERR_INVALID_CA | = | = | X509_V_ERR_INVALID_CA | =
4.7.2 | invalid_ca X509_V_ERR_INVALID_CA | = | = | X509_V_ERR_INVALID_CA | =
4.7.3 | ok | = | = | X509_V_OK | =
4.7.4 | revocation_unknown X509_V_ERR_KEYUSAGE_NO_CRL_SIGN | = | = | X509_V_ERR_KEYUSAGE_NO_CRL_SIGN | =
4.7.5 | revocation_unknown X509_V_ERR_KEYUSAGE_NO_CRL_SIGN | = | = | X509_V_ERR_KEYUSAGE_NO_CRL_SIGN | =
4.13.1 | ok | = | = | X509_V_OK | =
4.13.2 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.3 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.4 | ok | = | = | X509_V_OK | =
4.13.5 | ok | = | = | X509_V_OK | =
4.13.6 | ok | = | = | X509_V_OK | =
4.13.7 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.8 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.9 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.10 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.11 | ok | = | = | X509_V_OK | =
4.13.12 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.13 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.14 | ok | = | = | X509_V_OK | =
4.13.15 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.16 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.17 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.18 | ok | = | = | X509_V_OK | =
4.13.19 | ok | = | = | X509_V_OK | =
4.13.20 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.21 | ok | = | = | X509_V_OK | =
4.13.22 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.23 | ok | = | = | X509_V_OK | =
4.13.24 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.25 | ok | = | = | X509_V_OK | =
4.13.26 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.27 | ok | = | = | X509_V_OK | =
4.13.28 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.29 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.30 | ok | = | = | X509_V_OK | =
4.13.31 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.32 | ok | = | = | X509_V_OK | =
4.13.33 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.34 | ok | = | = | X509_V_OK | =
4.13.35 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.13.36 | ok | = | = | X509_V_OK | =
4.13.37 | invalid_ca X509_V_ERR_EXCLUDED_VIOLATION | = | = | X509_V_ERR_EXCLUDED_VIOLATION | =
4.13.38 | invalid_ca X509_V_ERR_PERMITTED_VIOLATION | = | = | X509_V_ERR_PERMITTED_VIOLATION | =
4.14.1 | ok | = | = | X509_V_OK | =
4.14.2 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.14.3 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.4 | ok | = | = | X509_V_OK | =
4.14.5 | ok | = | = | X509_V_OK | =
4.14.6 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.14.7 | ok | = | = | X509_V_OK | =
4.14.8 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.9 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.10 | ok | = | = | X509_V_OK | =
4.14.11 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.12 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.13 | ok | = | = | X509_V_OK | =
4.14.14 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | =
4.14.15 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.16 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.17 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.14.18 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.19 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.20 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.21 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.22 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.23 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.24 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.25 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.26 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | ok | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_DIFFERENT_CRL_SCOPE
4.14.27 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.14.28 | ok | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_OK
4.14.29 | ok | = | = | X509_V_ERR_DIFFERENT_CRL_SCOPE | X509_V_OK
4.14.30 | revocation_unknown X509_V_ERR_CRL_PATH_VALIDATION_ERROR | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CRL_PATH_VALIDATION_ERROR
4.14.31 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.32 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.33 | ok | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_OK
4.14.34 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_CERT_REVOKED
4.14.35 | revocation_unknown X509_V_ERR_DIFFERENT_CRL_SCOPE | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | X509_V_ERR_DIFFERENT_CRL_SCOPE
4.15.1 | revocation_unknown X509_V_ERR_UNABLE_TO_GET_CRL | = | = | X509_V_ERR_UNABLE_TO_GET_CRL | =
4.15.2 | ok | = | = | X509_V_OK | =
4.15.3 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.15.4 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_OK | X509_V_ERR_CERT_REVOKED
4.15.5 | ok | = | = | X509_V_ERR_CERT_REVOKED | X509_V_OK
4.15.6 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.15.7 | ok | = | = | X509_V_OK | =
4.15.8 | ok | = | = | X509_V_OK | =
4.15.9 | revoked X509_V_ERR_CERT_REVOKED | = | = | X509_V_ERR_CERT_REVOKED | =
4.15.10 | revocation_unknown X509_V_ERR_CRL_HAS_EXPIRED | = | = | X509_V_ERR_CRL_HAS_EXPIRED | =
4.16.1 | ok | = | = | X509_V_OK | =
4.16.2 | invalid_certificate X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION | = | = | X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION | =
4.8.1.1 | - | - | ok | - | X509_V_OK
4.8.1.2 | - | - | ok | - | X509_V_OK
4.8.1.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.1.4 | - | - | ok | - | X509_V_OK
4.8.2.1 | - | - | ok | - | X509_V_OK
4.8.2.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.3.1 | - | - | ok | - | X509_V_OK
4.8.3.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.3.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.4 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.5 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.6.1 | - | - | ok | - | X509_V_OK
4.8.6.2 | - | - | ok | - | X509_V_OK
4.8.6.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.7 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.8 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.9 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.10.1 | - | - | ok | - | X509_V_OK
4.8.10.2 | - | - | ok | - | X509_V_OK
4.8.10.3 | - | - | ok | - | X509_V_OK
4.8.11.1 | - | - | ok | - | X509_V_OK
4.8.11.2 | - | - | ok | - | X509_V_OK
4.8.12 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.13.1 | - | - | ok | - | X509_V_OK
4.8.13.2 | - | - | ok | - | X509_V_OK
4.8.13.3 | - | - | ok | - | X509_V_OK
4.8.14.1 | - | - | ok | - | X509_V_OK
4.8.14.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.8.15 | - | - | ok | - | X509_V_OK
4.8.16 | - | - | ok | - | X509_V_OK
4.8.17 | - | - | ok | - | X509_V_OK
4.8.18.1 | - | - | ok | - | X509_V_OK
4.8.18.2 | - | - | ok | - | X509_V_OK
4.8.19 | - | - | ok | - | X509_V_OK
4.8.20 | - | - | ok | - | X509_V_OK
4.9.1 | - | - | ok | - | X509_V_OK
4.9.2 | - | - | ok | - | X509_V_OK
4.9.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.9.4 | - | - | ok | - | X509_V_OK
4.9.5 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.9.6 | - | - | ok | - | X509_V_OK
4.9.7 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.9.8 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.1.1 | - | - | ok | - | X509_V_OK
4.10.1.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.1.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.2.1 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.2.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.3.1 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.3.2 | - | - | ok | - | X509_V_OK
4.10.4 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.5.1 | - | - | ok | - | X509_V_OK
4.10.5.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.6.1 | - | - | ok | - | X509_V_OK
4.10.6.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.7 | - | - | invalid_certificate X509_V_ERR_INVALID_POLICY_EXTENSION | - | X509_V_ERR_INVALID_POLICY_EXTENSION
4.10.8 | - | - | invalid_certificate X509_V_ERR_INVALID_POLICY_EXTENSION | - | X509_V_ERR_INVALID_POLICY_EXTENSION
4.10.9 | - | - | ok | - | X509_V_OK
4.10.10 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.10.11 | - | - | ok | - | X509_V_OK
4.10.12.1 | - | - | ok | - | X509_V_OK
4.10.12.2 | - | - | ok | - | X509_V_OK
4.10.13 | - | - | ok | - | X509_V_OK
4.10.14 | - | - | ok | - | X509_V_OK
4.11.1 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.2 | - | - | ok | - | X509_V_OK
4.11.3 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.4 | - | - | ok | - | X509_V_OK
4.11.5 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.6 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.7 | - | - | ok | - | X509_V_OK
4.11.8 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.9 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.10 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.11.11 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.1 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.2 | - | - | ok | - | X509_V_OK
4.12.3.1 | - | - | ok | - | X509_V_OK
4.12.3.2 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.4 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.5 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.6 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.7 | - | - | ok | - | X509_V_OK
4.12.8 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
4.12.9 | - | - | ok | - | X509_V_OK
4.12.10 | - | - | invalid_certificate X509_V_ERR_NO_EXPLICIT_POLICY | - | X509_V_ERR_NO_EXPLICIT_POLICY
]]
