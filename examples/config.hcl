# Mayfly demo policies (used by `npm start`).
# The seed's policy: SELECT and UPDATE on dellstore (public and store) and testdb.
policy "pg-homolog" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "12h"
  instances           = ["dellstore", "dellstore.store", "testdb"]
  grant_privileges    = ["SELECT", "UPDATE"]
}

# Read-only access to the store schema, for an hour.
policy "store-readonly" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "1h"
  instances           = ["dellstore.store"]
  grant_privileges    = ["SELECT"]
}
