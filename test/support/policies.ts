import fs from 'node:fs';
import path from 'node:path';

/** The seed's example policy, written as HCL requires (one argument per line, `=` aligned). */
export const SEED_POLICY = `policy "pg-homolog" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "12h"
  instances           = ["dellstore", "dellstore.store", "testdb"]
  grant_privileges    = ["SELECT", "UPDATE"]
}
`;

/** The seed's role name for that policy. */
export const SEED_ROLE = '_hoop_session_user_bb0465c4';

/** The demo policies `npm start` serves (pg-homolog and store-readonly), as shipped. */
export const DEMO_POLICIES = fs.readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'config.hcl'), 'utf8');
