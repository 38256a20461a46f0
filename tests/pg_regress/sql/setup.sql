-- Setup shared by every file of this suite (pg_regress runs them in one database).
-- The deployment the README requires: the extension preloaded and created by a superuser,
-- the application connecting as a role that is neither superuser nor BYPASSRLS (a superuser
-- bypasses row-level security, so every isolation query below runs after SET ROLE regress_app),
-- and that can create in no schema (the default for public from PostgreSQL 15 on).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE EXTENSION boards_tenant;
CREATE ROLE regress_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
SELECT rolname FROM pg_roles WHERE rolname = 'boards_tenant_admin';
-- One HS256 key, kid "regress". The tokens of this suite were signed with it beforehand
-- (claims below, exp 4102444800 = 2100-01-01) so that the output is the same on every run.
SELECT boards_jwt_add_key('regress', 'HS256', 'regress-secret-0123456789abcdef0123456789');
-- The listing shows no secret: an HMAC key has no fingerprint.
SELECT kid, alg, format, fingerprint IS NULL AS no_fingerprint, issuer, audiences, tenants
  FROM boards_jwt_keys() ORDER BY kid;
-- Tokens, as psql variables used by the other files:
--   acme_owner     {"sub":"acme-owner","tenant":"acme","exp":4102444800}
--   globex_owner   {"sub":"globex-owner","tenant":"globex","exp":4102444800}
--   acme_stranger  {"sub":"stranger","tenant":"acme","exp":4102444800}
--   expired        {"sub":"acme-owner","tenant":"acme","exp":1000000000}
--   unknown_tenant {"sub":"acme-owner","tenant":"initech","exp":4102444800}
--   bad_slug       {"sub":"acme-owner","tenant":"Bad_Slug!","exp":4102444800}
--   forged         acme_owner's claims signed with another secret
--   no_tenant      {"sub":"acme-owner","exp":4102444800}
--   unknown_kid    acme_owner's claims, header kid "nope"
-- regress_token(name) returns one of them, for every file and role of the suite.
CREATE TABLE regress_tokens (name text PRIMARY KEY, token text NOT NULL);
INSERT INTO regress_tokens VALUES
  ('acme_owner', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiYWNtZSIsImV4cCI6NDEwMjQ0NDgwMH0.RH1AprCko-SMG_qBwUN31de3Aqpjum3OqZQupJi_7js'),
  ('globex_owner', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJnbG9iZXgtb3duZXIiLCJ0ZW5hbnQiOiJnbG9iZXgiLCJleHAiOjQxMDI0NDQ4MDB9.ugQH4s2UVL58a3Cb21PSHWCPw4t3IDt5Lqn7gB6j1fQ'),
  ('acme_stranger', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJzdHJhbmdlciIsInRlbmFudCI6ImFjbWUiLCJleHAiOjQxMDI0NDQ4MDB9.BmKBjmdkWHtBvQv4S7cq-6rOGiEshWD3e1yhaOmTL5k'),
  ('expired', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiYWNtZSIsImV4cCI6MTAwMDAwMDAwMH0.YShB0eb1N750U9A-wWXFI18FVgJtlWAPobKtDd0W4oQ'),
  ('unknown_tenant', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiaW5pdGVjaCIsImV4cCI6NDEwMjQ0NDgwMH0.ES4vfxChvH07GTaHs2_iimXQJ_GGQ5iLQUvH5YTxfUY'),
  ('bad_slug', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiQmFkX1NsdWchIiwiZXhwIjo0MTAyNDQ0ODAwfQ.RRXcc7ky3OHjJGa57SrH-kHdfCSMZYE7j7dLRPwXe7s'),
  ('forged', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiYWNtZSIsImV4cCI6NDEwMjQ0NDgwMH0.wtaqltKH8YYbjGgZR-8yNafrvLWjAPeke4srwXCsfXc'),
  ('no_tenant', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJlZ3Jlc3MifQ.eyJzdWIiOiJhY21lLW93bmVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.7LY-Qh369jn9-ytYR3abAPkb90-mi0Em9XHpOOHcH6o'),
  ('unknown_kid', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im5vcGUifQ.eyJzdWIiOiJhY21lLW93bmVyIiwidGVuYW50IjoiYWNtZSIsImV4cCI6NDEwMjQ0NDgwMH0.2zOXqO-usx-2WWwFQUX30AxCymO0sGgH35GCouxN1Ko');
CREATE FUNCTION regress_token(token_name text) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT token FROM regress_tokens WHERE name = token_name $$;
GRANT SELECT ON regress_tokens TO regress_app;
-- An application table with a tenant_id uuid column: auto-protected on creation
-- (boards.auto_protect = on), i.e. RLS enabled and forced, the tenant policy, the default
-- boards_current_tenant() and an index led by tenant_id.
CREATE TABLE notes (tenant_id uuid NOT NULL, id int NOT NULL, body text NOT NULL,
                    PRIMARY KEY (tenant_id, id));
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO regress_app;
SELECT table_name, tenant_column, rls_enabled, rls_forced, policy_ok, default_ok, tenant_index,
       builtin, problems
  FROM boards_tenant_protected_tables() ORDER BY table_name::text;
