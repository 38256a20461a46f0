//! Platform operators (sql/operators.sql): subjects an admin marked as allowed to manage
//! tenants through the app role, checked in the database from the verified token, so an API
//! layer (the HTTP gateway's /api/setup endpoints) never decides who is an operator.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/operators.sql",
    name = "operators",
    // PL/pgSQL bodies resolve the context readers when they run, not when created.
    requires = ["schema", "tenants"]
);
