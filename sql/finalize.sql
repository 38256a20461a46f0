-- Runs last in the extension script: protect the Boards tables, install the triggers, and
-- set every function's privileges. Default deny: no function is executable by PUBLIC unless
-- granted below, and every function that touches protected or bookkeeping tables runs as the
-- extension owner with a pinned search_path.

-- The Boards content tables, through the same code path as any application table.
SELECT boards.protect_builtin_internal('boards.users');
SELECT boards.protect_builtin_internal('boards.boards');
SELECT boards.protect_builtin_internal('boards.board_members');
SELECT boards.protect_builtin_internal('boards.generations');

-- Changes to keys and tenants reach every backend's caches (src/invalidation.rs).
CREATE FUNCTION boards.table_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.invalidate_caches(TG_RELID);
    RETURN NULL;
END
$$;
CREATE TRIGGER jwt_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON boards.jwt_keys
    FOR EACH STATEMENT EXECUTE FUNCTION boards.table_changed();
CREATE TRIGGER tenants_changed AFTER UPDATE OR DELETE OR TRUNCATE ON boards.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION boards.table_changed();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE OR TRUNCATE ON boards.users
    FOR EACH STATEMENT EXECUTE FUNCTION boards.table_changed();
-- Inserts too: a new block must end the contexts of sessions already set (src/blocks.rs).
CREATE TRIGGER subject_blocks_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON boards.subject_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION boards.table_changed();

-- DDL: auto-protection of new tenant tables and the guard that keeps protected tables protected.
-- The section of sql/boards_tenant--0.1.0--0.2.0.sql headed "DDL at PostgreSQL's own cost" repeats this block: keep
-- them the same (tests/tests/upgrade.rs compares the event triggers and their tags).
CREATE FUNCTION boards.ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.on_ddl_command_end_internal();
END
$$;
-- Only the commands that can create or change a table, a policy, a grant, a view, a rule or a
-- trigger (src/ddl_scope.rs); DROP POLICY and ALTER TABLE for the tenant policies sql_drop saw
-- go. CREATE SCHEMA and CREATE/ALTER EXTENSION can create tables inside them.
CREATE EVENT TRIGGER boards_tenant_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'GRANT',
                 'CREATE VIEW', 'ALTER VIEW', 'CREATE MATERIALIZED VIEW',
                 'ALTER MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW',
                 'CREATE RULE', 'CREATE TRIGGER', 'ALTER TRIGGER',
                 'CREATE SCHEMA', 'CREATE EXTENSION', 'ALTER EXTENSION')
    EXECUTE FUNCTION boards.ddl_command_end();

-- A dropped protected table leaves the registry with it; a dropped tenant policy is judged at
-- ddl_command_end. No tag filter: any DROP ... CASCADE can reach a table (through a type, a
-- function in a partition key, an access method...), and sql_drop fires only when something
-- was dropped, looking at nothing but what was.
CREATE FUNCTION boards.sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.on_sql_drop_internal();
END
$$;
CREATE EVENT TRIGGER boards_tenant_sql_drop ON sql_drop EXECUTE FUNCTION boards.sql_drop();

-- Default deny, except for the functions anyone may call. Those keep PostgreSQL's default ACL
-- (proacl NULL: EXECUTE for PUBLIC), which grants exactly what REVOKE ALL FROM PUBLIC followed by
-- GRANT EXECUTE TO PUBLIC would, but costs less where it counts: PostgreSQL checks EXECUTE at
-- every executor start of every statement that calls a function, and an explicit ACL makes that
-- check read proacl from the pg_proc tuple (nocachegetattr), ~1,500 instructions more per call
-- site (callgrind, bench/callgrind_diff.py point_floor point_protected). The reader every policy
-- calls and the per-request context setters are on that path.
-- What anyone may call:
-- - read the context (what policies call), get one from a verified token, drop it;
-- - roles for policies, self-service membership, invitations, checked inside against the
--   verified context (src/roles.rs, src/members.rs, src/invitations.rs);
-- - tenant management by platform operators, checked inside against boards.operators
--   (sql/operators.sql), who are identified by their verified token.
DO $$
DECLARE
    anyone CONSTANT pg_catalog.regprocedure[] := ARRAY[
        '@extschema@.boards_current_tenant()',
        '@extschema@.boards_current_tenant_slug()',
        '@extschema@.boards_current_subject()',
        '@extschema@.boards_current_user_id()',
        '@extschema@.boards_current_claims()',
        '@extschema@.boards_context_seal()',
        '@extschema@.boards_reset_tenant()',
        '@extschema@.boards_set_tenant_from_jwt(text, text, boolean)',
        '@extschema@.boards_authenticate(text, boolean)',
        '@extschema@.boards_ensure_tenant_isolation(uuid, uuid, text, uuid)',
        'boards.ensure_tenant_isolation_internal(uuid, uuid, text, uuid, oid)',
        '@extschema@.boards_tenant_register(text, text, text, text, text, boolean)',
        '@extschema@.boards_tenant_registration_status()',
        '@extschema@.boards_current_role()',
        '@extschema@.boards_has_role(text)',
        '@extschema@.boards_member_list()',
        '@extschema@.boards_member_set_role(text, text)',
        '@extschema@.boards_member_remove(text)',
        '@extschema@.boards_invitation_create(text, text, interval)',
        '@extschema@.boards_invitation_list()',
        '@extschema@.boards_invitation_revoke(uuid)',
        '@extschema@.boards_invitation_accept(text)',
        'boards.caller_subject_blocked(text)',
        '@extschema@.boards_is_operator()',
        '@extschema@.boards_operator_tenant_create(text, text, jsonb, boolean)',
        '@extschema@.boards_operator_tenant_list()',
        '@extschema@.boards_operator_tenant_get(text)',
        '@extschema@.boards_operator_tenant_update(text, text, text, jsonb)',
        '@extschema@.boards_operator_tenant_approve(text)',
        '@extschema@.boards_operator_tenant_suspend(text)',
        '@extschema@.boards_operator_tenant_delete(text)',
        '@extschema@.boards_operator_tenant_members(text)',
        '@extschema@.boards_operator_tenant_add_member(text, text, text, text, text)',
        '@extschema@.boards_operator_tenant_remove_member(text, text)'
    ]::pg_catalog.regprocedure[];
    f regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::regprocedure
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
        WHERE e.extname = 'boards_tenant' AND d.deptype = 'e'
          AND d.classid = 'pg_catalog.pg_proc'::regclass
          AND d.objid <> ALL (anyone::pg_catalog.oid[])
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
    -- Default privileges of the installing role (ALTER DEFAULT PRIVILEGES ... REVOKE EXECUTE
    -- ON FUNCTIONS FROM PUBLIC) may have given them an ACL without PUBLIC: grant it then.
    FOREACH f IN ARRAY anyone LOOP
        IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p WHERE p.oid = f) THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
        END IF;
    END LOOP;
END
$$;

-- The admin role: keys, protection, tenants, audit, trusted contexts.
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_set_tenant(text, boolean),
    @extschema@.boards_jwt_add_key(text, text, text, text, text[], text[]),
    @extschema@.boards_jwt_import_jwks(jsonb, text, text[], text[]),
    @extschema@.boards_jwt_remove_key(text, text),
    @extschema@.boards_jwt_restrict_key(text, text[], text),
    @extschema@.boards_jwt_sync_jwks(jsonb, text, text[], interval, text[]),
    @extschema@.boards_jwt_keys(),
    @extschema@.boards_tenant_protect(regclass, name, text[]),
    @extschema@.boards_tenant_unprotect(regclass),
    @extschema@.boards_tenant_protected_tables(),
    @extschema@.boards_tenant_migrate_table(regclass),
    @extschema@.boards_tenant_audit(text),
    @extschema@.boards_tenant_audit_json(text),
    @extschema@.boards_tenant_create(text, text, jsonb, boolean),
    @extschema@.boards_tenant_list(),
    @extschema@.boards_tenant_get(text),
    @extschema@.boards_tenant_update(text, text, text, jsonb),
    @extschema@.boards_tenant_approve(text),
    @extschema@.boards_tenant_suspend(text),
    @extschema@.boards_tenant_delete(text),
    @extschema@.boards_tenant_add_member(text, text, text, text, text),
    @extschema@.boards_tenant_remove_member(text, text),
    @extschema@.boards_tenant_members(text)
TO boards_tenant_admin;
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_subject_block(text, text),
    @extschema@.boards_subject_unblock(text),
    @extschema@.boards_tenant_invite_owner(text, text, interval),
    @extschema@.boards_tenant_purge_invitations()
TO boards_tenant_admin;
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_operator_add(text, text, text),
    @extschema@.boards_operator_remove(text),
    @extschema@.boards_operators()
TO boards_tenant_admin;

-- SECURITY DEFINER and the pinned search_path of the extension's C functions are declared
-- where each is defined (`#[pg_extern(security_definer)]`, `#[search_path(pg_catalog, pg_temp)]`);
-- tests/tests/foundation.rs lists every SECURITY DEFINER function with its search_path.
