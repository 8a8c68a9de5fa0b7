/** Numbers and limits of the PostgreSQL frontend/backend protocol that Mayfly speaks. */

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH: anything longer is refused before it is buffered. */
export const MAX_STARTUP_PACKET = 10_000;
/** Auth-phase messages (passwords, SASL) are small; cap them so a client cannot make us buffer. */
export const MAX_AUTH_MESSAGE = 10_000;

export const PROTOCOL_MAJOR = 3;
/** Newest minor version we speak: 3.2 (PostgreSQL 18) only changes the cancel key length. */
export const NEWEST_MINOR = 2;

export const AUTH_OK = 0;
export const AUTH_CLEARTEXT = 3;
export const AUTH_MD5 = 5;
export const AUTH_SASL = 10;
export const AUTH_SASL_CONTINUE = 11;
export const AUTH_SASL_FINAL = 12;

/** SQLSTATEs we raise ourselves. */
export const SQLSTATE = {
  protocolViolation: '08P01',
  connectionFailure: '08006',
  cannotConnectNow: '57P03',
  adminShutdown: '57P01',
  invalidAuthorization: '28000',
  invalidPassword: '28P01',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  featureNotSupported: '0A000',
  tooManyConnections: '53300',
  internalError: 'XX000',
} as const;
