//! The data checks: orphans, owners and statistics per table, invitations, duplicate
//! subjects and the cross-tenant, dangling and join-table references (set-based SQL).

use super::*;

/// What a row of the statistics, orphans and owners statement is: its `arm` column is the
/// position of the `SELECT` that produced it.
enum Arm<'a> {
    /// `counts` holds the statistics, in the order of the keys.
    Statistics(Vec<String>),
    Orphans(&'a Table),
    WithoutOwner(&'a Table),
}

impl Arm<'_> {
    fn finding(&self, tenant_slug: Option<String>, detail: Value, counts: Vec<i64>) -> Finding {
        match self {
            Arm::Statistics(keys) => Finding::new(
                Check::TenantStatistics,
                tenant_slug,
                "boards.tenants",
                Value::Object(
                    keys.iter()
                        .cloned()
                        .zip(counts.into_iter().map(Value::from))
                        .collect(),
                ),
            ),
            Arm::Orphans(table) => {
                let mut detail = detail;
                with_fix(
                    &mut detail,
                    &format!(
                        "Assign the rows of {} to their tenant (UPDATE ... SET {} = <tenant id>) or delete them; NULL or unknown tenant ids are visible to no tenant and break tenant deletion",
                        table.name, table.tenant_column
                    ),
                );
                Finding::new(Check::OrphanedRecords, None, &table.name, detail)
            }
            Arm::WithoutOwner(users) => {
                let mut detail = detail;
                with_fix(
                    &mut detail,
                    "Make one member the owner: SELECT boards_tenant_add_member(<slug>, <subject>, 'owner')",
                );
                Finding::new(Check::TenantWithoutOwner, tenant_slug, &users.name, detail)
            }
        }
    }
}

/// Statistics, orphans and owners: one `GROUP BY` pass over every table of the registry.
/// Every `SELECT` returns `(tenant_slug, arm, detail, counts)`; `$1` is the tenant (NULL for
/// all), `$2` the number of samples.
pub(super) fn statistics_orphans_owners(
    tables: &[Table],
    tenant: Option<pgrx::Uuid>,
) -> ExtResult<Vec<Finding>> {
    // Partitioned tables hold no rows; their partitions are registry entries of their own.
    let scanned: Vec<&Table> = tables
        .iter()
        .filter(|t| t.tenant_column_exists && t.relkind == "r")
        .collect();
    let mut ctes = Vec::new();
    let mut joins = String::new();
    let mut stats: BTreeMap<String, String> = STATISTICS_KEYS
        .iter()
        .map(|k| ((*k).to_owned(), "0".to_owned()))
        .collect();
    let mut users_cte = None;
    for (i, t) in scanned.iter().enumerate() {
        let cte = format!("s{i}");
        let owners = if t.is_users() && t.columns.contains("role") {
            users_cte = Some((cte.clone(), *t));
            // Sample rows (boards_tenant_create(..., include_sample_data)) are nobody's
            // membership: a tenant with only those is not missing an owner yet.
            ", count(*) FILTER (WHERE c.role = 'owner') AS owners, \
               count(*) FILTER (WHERE c.auth_provider IS DISTINCT FROM 'sample') AS members"
        } else {
            ""
        };
        ctes.push(format!(
            "{cte} AS MATERIALIZED (
                SELECT {tc} AS tenant_id, count(*) AS n{owners}
                FROM {from} c
                WHERE $1::uuid IS NULL OR {tc} = $1
                GROUP BY 1)",
            tc = t.tenant("c"),
            from = t.from(),
        ));
        joins.push_str(&format!(" LEFT JOIN {cte} ON {cte}.tenant_id = tn.id"));
        let key = t.statistics_key();
        let count = format!("coalesce({cte}.n, 0)");
        stats
            .entry(key)
            .and_modify(|e| *e = format!("{e} + {count}"))
            .or_insert(count);
    }

    let mut arms = vec![Arm::Statistics(stats.keys().cloned().collect())];
    let mut selects = vec![format!(
        "SELECT tn.slug, 0 AS arm, NULL::jsonb AS detail,
                ARRAY[{}]::bigint[] AS counts
         FROM tn{joins}",
        stats.values().cloned().collect::<Vec<_>>().join(", ")
    )];
    if tenant.is_none() {
        for (i, t) in scanned.iter().enumerate() {
            selects.push(format!(
                "SELECT NULL::text, {arm}, pg_catalog.jsonb_build_object(
                            'rows', sum(s.n),
                            'rows_without_tenant', coalesce(sum(s.n) FILTER (WHERE s.tenant_id IS NULL), 0),
                            'unknown_tenant_ids', pg_catalog.to_jsonb((pg_catalog.array_agg(s.tenant_id ORDER BY s.n DESC, s.tenant_id) FILTER (WHERE s.tenant_id IS NOT NULL))[1:$2]),
                            'sample_ids', pg_catalog.to_jsonb(ARRAY(
                                SELECT {id} FROM {from} c
                                WHERE {tc} IS NULL
                                   OR NOT EXISTS (SELECT FROM boards.tenants t WHERE t.id = {tc})
                                ORDER BY 1 LIMIT $2))),
                        NULL
                 FROM s{i} s
                 WHERE NOT EXISTS (SELECT FROM boards.tenants t WHERE t.id = s.tenant_id)
                 HAVING count(*) > 0",
                arm = arms.len(),
                id = t.id_expr("c"),
                from = t.from(),
                tc = t.tenant("c"),
            ));
            arms.push(Arm::Orphans(t));
        }
    }
    if let Some((cte, users)) = users_cte {
        selects.push(format!(
            "SELECT tn.slug, {arm},
                    pg_catalog.jsonb_build_object('users', {cte}.n, 'owners', 0), NULL
             FROM tn JOIN {cte} ON {cte}.tenant_id = tn.id
             WHERE tn.status = 'active' AND tn.slug <> 'default' AND {cte}.owners = 0
               AND {cte}.members > 0",
            arm = arms.len(),
        ));
        arms.push(Arm::WithoutOwner(users));
    }
    ctes.push(
        "tn AS (SELECT id, slug, status FROM boards.tenants WHERE $1::uuid IS NULL OR id = $1)"
            .to_owned(),
    );
    let sql = format!(
        "WITH {}\n{}",
        ctes.join(",\n"),
        selects.join("\nUNION ALL\n")
    );
    let rows = db::rows(&sql, &[tenant.into(), samples()], |row| {
        Ok((
            row.get::<String>(1)?,
            row.get::<i32>(2)?,
            detail(row, 3)?,
            row.get::<Vec<i64>>(4)?.unwrap_or_default(),
        ))
    })?;
    rows.into_iter()
        .map(|(slug, arm, detail, counts)| {
            let arm = arm
                .and_then(|a| usize::try_from(a).ok())
                .and_then(|a| arms.get(a))
                .ok_or(unknown_arm())?;
            Ok(arm.finding(slug, detail, counts))
        })
        .collect()
}

/// A generated statement returned a row its generator did not make: never clean by mistake.
fn unknown_arm() -> ExtError {
    ExtError::Spi(pgrx::spi::Error::SpiError(
        pgrx::spi::SpiErrorCodes::NoAttribute,
    ))
}

/// Whether `boards.invitations` exists (a database still at 0.1.0 has none).
pub(super) fn invitations_installed() -> ExtResult<bool> {
    Ok(db::one::<bool>(queries::INVITATIONS_INSTALLED, &[])?.unwrap_or(false))
}

/// Invitations: tenants whose owner is invited but has not accepted yet (`info`: nothing to
/// fix, an owner is on the way), and expired invitations nobody purged (`low`: they hold
/// addresses that serve no purpose any more).
pub(super) fn invitation_checks(tenant: Option<pgrx::Uuid>) -> ExtResult<Vec<Finding>> {
    if !invitations_installed()? {
        return Ok(Vec::new());
    }
    let mut out = tenant_findings(
        Check::OwnerInvitationPending,
        "boards.invitations",
        None,
        queries::OWNER_INVITATIONS_PENDING,
        &[tenant.into()],
    )?;
    out.extend(tenant_findings(
        Check::ExpiredInvitations,
        "boards.invitations",
        Some("Delete unusable invitations: SELECT boards_tenant_purge_invitations()"),
        queries::EXPIRED_INVITATIONS,
        &[tenant.into(), samples()],
    )?);
    Ok(out)
}

/// An owner who was invited and has not signed in yet is not missing: a tenant with a pending
/// owner invitation is not also reported without owner (an expired invitation does not count).
fn drop_awaited_owners(findings: &mut Vec<Finding>) {
    let awaited: BTreeSet<Option<String>> = findings
        .iter()
        .filter(|f| f.check == Check::OwnerInvitationPending)
        .map(|f| f.tenant_slug.clone())
        .collect();
    findings.retain(|f| f.check != Check::TenantWithoutOwner || !awaited.contains(&f.tenant_slug));
}

/// Two user rows for one (tenant, subject): only possible without the unique key.
pub(super) fn duplicate_subjects(
    tables: &[Table],
    tenant: Option<pgrx::Uuid>,
) -> ExtResult<Vec<Finding>> {
    let Some(users) = tables
        .iter()
        .find(|t| t.is_users() && t.tenant_column_exists && t.columns.contains("auth_subject"))
    else {
        return Ok(Vec::new());
    };
    // A valid, total unique index on (a subset of) the two columns makes duplicates impossible.
    let guaranteed = db::one::<bool>(
        queries::SUBJECTS_UNIQUE,
        &[users.oid.into(), users.tenant_column.as_str().into()],
    )?
    .unwrap_or(false);
    if guaranteed {
        return Ok(Vec::new());
    }
    let fix = format!(
        "Merge the duplicate user rows of each subject into one (re-point their boards, memberships and generations first), then ALTER TABLE {} ADD UNIQUE ({}, auth_subject)",
        users.name, users.tenant_column
    );
    let sql = format!(
        "WITH d AS MATERIALIZED (
             SELECT {tc} AS tenant_id, u.auth_subject, count(*) AS n
             FROM {from} u
             WHERE {tc} IS NOT NULL AND ($1::uuid IS NULL OR {tc} = $1)
             GROUP BY 1, 2
             HAVING count(*) > 1)
         SELECT t.slug,
                pg_catalog.jsonb_build_object(
                    'subjects', count(*),
                    'rows', sum(d.n),
                    'sample_subjects', pg_catalog.to_jsonb((pg_catalog.array_agg(d.auth_subject ORDER BY d.auth_subject))[1:$2]),
                    'sample_ids', pg_catalog.to_jsonb(ARRAY(
                        SELECT {id} FROM {from} u
                        WHERE {tc} = t.id
                          AND u.auth_subject = ANY ((pg_catalog.array_agg(d.auth_subject ORDER BY d.auth_subject))[1:$2])
                        ORDER BY 1 LIMIT $2)))
         FROM d JOIN boards.tenants t ON t.id = d.tenant_id
         GROUP BY t.id, t.slug",
        tc = users.tenant("u"),
        from = users.from(),
        id = users.id_expr("u"),
    );
    tenant_findings(
        Check::DuplicateSubject,
        &users.name,
        Some(&fix),
        &sql,
        &[tenant.into(), samples()],
    )
}

/// One foreign key of a child table, ready for SQL generation.
pub(super) struct CheckedKey<'a> {
    pub(super) fk: &'a ForeignKey,
    pub(super) parent: &'a Table,
    pub(super) pairs: Vec<(String, String)>,
    /// `CrossTenantUserAccess` for keys to boards.users, else `CrossTenantReferences`.
    pub(super) check: Check,
}

impl CheckedKey<'_> {
    /// The key's columns as the details name them.
    fn columns(&self) -> String {
        self.pairs
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A finding of rows of `child` whose key references another tenant's parent row or,
    /// `dangling`, no row at all.
    fn finding(
        &self,
        child: &Table,
        tenant_slug: Option<String>,
        dangling: bool,
        detail: Value,
    ) -> Finding {
        let columns = self.columns();
        let (check, fix) = if dangling {
            (
                Check::DanglingReferences,
                format!(
                    "Restore the missing {} rows or delete (or NULL out) the listed references in {} ({columns}), then validate foreign key {}",
                    self.parent.name, child.name, self.fk.name
                ),
            )
        } else {
            (
                self.check,
                format!(
                    "Re-point the listed rows of {} at {} rows of their own tenant (or delete them): their {columns} reference another tenant's row. Keep {} in foreign key {} and never load data with session_replication_role = replica",
                    child.name, self.parent.name, child.tenant_column, self.fk.name
                ),
            )
        };
        let mut detail = detail;
        if let Value::Object(map) = &mut detail {
            map.insert("constraint".into(), json!(self.fk.name));
            map.insert("references".into(), json!(self.parent.name));
            map.insert("columns".into(), json!(columns));
        }
        with_fix(&mut detail, &fix);
        Finding::new(check, tenant_slug, &child.name, detail)
    }
}

/// Cross-tenant, dangling and join-table checks of one child table.
///
/// First, per key, one anti-join that counts the child rows of a known tenant without a
/// parent in that tenant (a hash or merge join, or an index nested loop for a key that is
/// mostly NULL: the planner knows these sizes). A clean table stops there. Otherwise one
/// statement classifies them: `m<n>`, the same anti-join per key that has such rows, by row
/// address; `cand`, those rows; `o<n>`, for those keys only, the tenant of a parent with the
/// key in any tenant; `res`, per candidate row and key, the parent's tenant (the row's own when
/// the key resolves there, NULL when dangling).
///
/// The planner cannot know how many candidates there are (it expects none), so the joins of
/// candidates to parents and to each other are FULL JOINs, which only hash or merge joins can
/// run: a nested loop would scan a parent once per candidate.
pub(super) fn reference_checks(
    child: &Table,
    keys: &[CheckedKey<'_>],
    tenant: Option<pgrx::Uuid>,
) -> ExtResult<Vec<Finding>> {
    let ctc = child.tenant("c");
    let not_null = |key: &CheckedKey<'_>| {
        key.pairs
            .iter()
            .map(|(c, _)| format!("c.{} IS NOT NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    // Rows of unknown tenants are orphans, reported as such.
    let anti_join = |key: &CheckedKey<'_>, select: &str| {
        format!(
            "SELECT {select} FROM {cfrom} c
             WHERE ($1::uuid IS NULL OR {ctc} = $1) AND {nn}
               AND EXISTS (SELECT FROM boards.tenants t WHERE t.id = {ctc})
               AND NOT EXISTS (SELECT FROM {pfrom} p WHERE {ptc} = {ctc}{on})",
            cfrom = child.from(),
            pfrom = key.parent.from(),
            nn = not_null(key),
            ptc = key.parent.tenant("p"),
            on = key
                .pairs
                .iter()
                .map(|(c, pc)| format!(" AND p.{} = c.{}", ident(pc), ident(c)))
                .collect::<String>(),
        )
    };

    let mut flagged = Vec::with_capacity(keys.len());
    for key in keys {
        let missing = db::one::<i64>(&anti_join(key, "count(*)"), &[tenant.into()])?;
        flagged.push(missing.unwrap_or(0) > 0);
    }
    if !flagged.iter().any(|f| *f) {
        return Ok(Vec::new());
    }

    let mut ctes = Vec::new();
    let mut marks = Vec::new();
    let mut mark_cols = Vec::new();
    let mut cand_cols = Vec::new();
    let mut others = Vec::new();
    let mut res_cols = Vec::new();
    let mut res_joins = Vec::new();
    let mut fk_rows = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let n = i + 1;
        cand_cols.push(format!("({}) AS nn_{n}", not_null(key)));
        if !flagged[i] {
            // Every row with the key set has its parent in its own tenant.
            res_cols.push(format!(
                "CASE WHEN cand.nn_{n} THEN cand.tenant_id END AS pt_{n}"
            ));
            continue;
        }
        ctes.push(format!(
            "m{n} AS MATERIALIZED ({})",
            anti_join(key, "c.tableoid AS toid, c.ctid AS tid")
        ));
        marks.push(format!("SELECT {n} AS k, toid, tid FROM m{n}"));
        mark_cols.push(format!("pg_catalog.bool_or(k = {n}) AS miss_{n}"));
        let reference = match key.pairs.as_slice() {
            [(c, _)] => format!("c.{}::text", ident(c)),
            many => format!(
                "ROW({})::text",
                many.iter()
                    .map(|(c, _)| format!("c.{}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        cand_cols.push(format!("x.miss_{n}, {reference} AS ref_{n}"));
        for (j, (c, _)) in key.pairs.iter().enumerate() {
            cand_cols.push(format!("c.{} AS k{n}_{j}", ident(c)));
        }

        // The tenant of a parent with the key in any tenant, for the candidates' keys only.
        let keys_of = |alias: &str| {
            (0..key.pairs.len())
                .map(|j| format!("{alias}.k{n}_{j}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let pkeys_as = key
            .pairs
            .iter()
            .enumerate()
            .map(|(j, (_, pc))| format!("p.{} AS k{n}_{j}", ident(pc)))
            .collect::<Vec<_>>()
            .join(", ");
        let wkeys_as = (0..key.pairs.len())
            .map(|j| format!("w.k{n}_{j} AS k{n}_{j}"))
            .collect::<Vec<_>>()
            .join(", ");
        let on_w = (0..key.pairs.len())
            .map(|j| format!("p.k{n}_{j} = w.k{n}_{j}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        others.push(format!(
            "o{n} AS MATERIALIZED (
                SELECT DISTINCT ON ({wkeys}) {wkeys_as}, p.parent_tenant
                FROM (SELECT {pkeys_as}, {ptc} AS parent_tenant, true AS present
                      FROM {from} p WHERE {ptc} IS NOT NULL) p
                FULL JOIN (SELECT DISTINCT {ckeys}, true AS wanted FROM cand WHERE miss_{n}) w
                  ON {on_w}
                WHERE coalesce(p.present, false) AND coalesce(w.wanted, false)
                ORDER BY {wkeys}, p.parent_tenant)",
            wkeys = keys_of("w"),
            ckeys = keys_of("cand"),
            ptc = key.parent.tenant("p"),
            from = key.parent.from(),
        ));
        let on_o = (0..key.pairs.len())
            .map(|j| format!("o{n}.k{n}_{j} = cand.k{n}_{j}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        res_joins.push(format!("FULL JOIN o{n} ON {on_o}"));
        res_cols.push(format!(
            "cand.miss_{n}, cand.ref_{n},
             CASE WHEN NOT cand.nn_{n} THEN NULL
                  WHEN NOT cand.miss_{n} THEN cand.tenant_id
                  ELSE o{n}.parent_tenant END AS pt_{n}"
        ));
        fk_rows.push(format!(
            "SELECT {n} AS fk, tenant_id, pt_{n} AS parent_tenant, row_id, ref_{n} AS ref
             FROM res WHERE miss_{n}"
        ));
    }

    // The candidates, fetched by address (a TID scan per row, or one hash join).
    ctes.push(format!(
        "x AS (
            SELECT toid, tid, {mark_cols}
            FROM ({marks}) u
            GROUP BY toid, tid)",
        mark_cols = mark_cols.join(", "),
        marks = marks.join(" UNION ALL "),
    ));
    ctes.push(format!(
        "cand AS MATERIALIZED (
            SELECT {ctc} AS tenant_id, {id} AS row_id, true AS present, {cols}
            FROM {from} c
            JOIN x ON c.tableoid = x.toid AND c.ctid = x.tid)",
        id = child.id_expr("c"),
        cols = cand_cols.join(",\n"),
        from = child.from(),
    ));
    ctes.extend(others);
    ctes.push(format!(
        "res AS MATERIALIZED (
            SELECT cand.tenant_id, cand.row_id, {cols}
            FROM cand
            {joins}
            WHERE coalesce(cand.present, false))",
        cols = res_cols.join(",\n"),
        joins = res_joins.join("\n"),
    ));
    ctes.push(format!("fk_rows AS ({})", fk_rows.join("\nUNION ALL\n")));
    ctes.push(
        "fk_groups AS (
            SELECT fk, tenant_id, parent_tenant IS NULL AS dangling, count(*) AS n,
                   pg_catalog.array_agg(row_id ORDER BY row_id) FILTER (WHERE rn <= $2) AS ids,
                   pg_catalog.array_agg(ref ORDER BY row_id) FILTER (WHERE rn <= $2) AS refs,
                   (pg_catalog.array_agg(DISTINCT parent_tenant) FILTER (WHERE parent_tenant IS NOT NULL))[1:$2] AS pts
            FROM (SELECT f.*, pg_catalog.row_number() OVER (
                             PARTITION BY fk, tenant_id, parent_tenant IS NULL ORDER BY row_id) AS rn
                  FROM fk_rows f) s
            GROUP BY fk, tenant_id, parent_tenant IS NULL)"
            .to_owned(),
    );
    // Rows are `(tenant_slug, key number or NULL for a join-table row, dangling, detail)`.
    let mut selects = vec!["SELECT t.slug, g.fk, g.dangling,
                pg_catalog.jsonb_build_object(
                    'rows', g.n,
                    'sample_ids', pg_catalog.to_jsonb(g.ids),
                    'sample_references', pg_catalog.to_jsonb(g.refs),
                    'parent_tenants', pg_catalog.to_jsonb(ARRAY(
                        SELECT coalesce(pt.slug, u::text)
                        FROM pg_catalog.unnest(coalesce(g.pts, '{}')) u
                        LEFT JOIN boards.tenants pt ON pt.id = u
                        ORDER BY 1)))
         FROM fk_groups g
         JOIN boards.tenants t ON t.id = g.tenant_id"
        .to_owned()];

    // A join table: rows whose parents are in different tenants from each other. `$3` holds
    // the keys' constraint names, in key order.
    let join_table_fix = (keys.len() >= 2).then(|| {
        format!(
            "Delete the listed rows of {} or re-point them so that all their parents ({}) belong to the row's tenant",
            child.name,
            keys.iter()
                .map(|k| k.parent.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    if join_table_fix.is_some() {
        let pts = (1..=keys.len())
            .map(|n| format!("pt_{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let parents = (1..=keys.len())
            .map(|n| {
                format!(
                    "$3[{n}], coalesce((SELECT x.slug FROM boards.tenants x WHERE x.id = s.pt_{n}), s.pt_{n}::text)"
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        ctes.push(format!(
            "mv AS (
                SELECT tenant_id, row_id, {pts}
                FROM res
                WHERE (SELECT count(DISTINCT x) FROM pg_catalog.unnest(ARRAY[{pts}]) x) > 1)"
        ));
        selects.push(format!(
            "SELECT t.slug, NULL::int, NULL::boolean,
                    pg_catalog.jsonb_build_object(
                        'rows', g.n,
                        'sample_ids', pg_catalog.to_jsonb(g.ids),
                        'samples', g.samples)
             FROM (SELECT s.tenant_id, count(*) AS n,
                          pg_catalog.array_agg(s.row_id ORDER BY s.row_id) FILTER (WHERE s.rn <= $2) AS ids,
                          pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'id', s.row_id,
                              'parent_tenants', pg_catalog.jsonb_build_object({parents}))
                              ORDER BY s.row_id) FILTER (WHERE s.rn <= $2) AS samples
                   FROM (SELECT mv.*, pg_catalog.row_number() OVER (
                                    PARTITION BY tenant_id ORDER BY row_id) AS rn
                         FROM mv) s
                   GROUP BY s.tenant_id) g
             JOIN boards.tenants t ON t.id = g.tenant_id"
        ));
    }
    let sql = format!(
        "WITH {}\n{}",
        ctes.join(",\n"),
        selects.join("\nUNION ALL\n")
    );
    let constraint_names: Vec<String> = keys.iter().map(|k| k.fk.name.clone()).collect();
    let rows = db::rows(
        &sql,
        &[tenant.into(), samples(), constraint_names.into()],
        |row| {
            Ok((
                row.get::<String>(1)?,
                row.get::<i32>(2)?,
                row.get::<bool>(3)?.unwrap_or(false),
                detail(row, 4)?,
            ))
        },
    )?;
    rows.into_iter()
        .map(|(slug, key, dangling, detail)| match key {
            Some(n) => {
                let key = usize::try_from(n)
                    .ok()
                    .and_then(|n| keys.get(n.wrapping_sub(1)))
                    .ok_or(unknown_arm())?;
                Ok(key.finding(child, slug, dangling, detail))
            }
            None => {
                let mut detail = detail;
                with_fix(&mut detail, join_table_fix.as_deref().unwrap_or_default());
                Ok(Finding::new(
                    Check::BoardMembershipViolations,
                    slug,
                    &child.name,
                    detail,
                ))
            }
        })
        .collect()
}

pub(super) fn set_local(name: &str, value: &str) -> ExtResult<()> {
    db::rows(queries::SET_LOCAL, &[name.into(), value.into()], |_| Ok(()))?;
    Ok(())
}

pub(super) fn data_checks(
    tables: &[Table],
    fks: &[ForeignKey],
    tenant: Option<pgrx::Uuid>,
) -> ExtResult<Vec<Finding>> {
    let mut out = statistics_orphans_owners(tables, tenant)?;
    out.extend(duplicate_subjects(tables, tenant)?);
    out.extend(invitation_checks(tenant)?);
    drop_awaited_owners(&mut out);
    let by_oid: BTreeMap<u32, &Table> = tables.iter().map(|t| (t.oid.to_u32(), t)).collect();
    let users = tables.iter().find(|t| t.is_users()).map(|t| t.oid);
    for child in tables.iter().filter(|t| t.tenant_column_exists) {
        let keys: Vec<CheckedKey<'_>> = fks
            .iter()
            .filter(|fk| fk.child == child.oid)
            .filter_map(|fk| {
                let parent = *by_oid.get(&fk.parent.to_u32())?;
                if !parent.tenant_column_exists {
                    return None;
                }
                let shape = fk.shape(child, parent);
                if shape.pairs.is_empty() {
                    return None;
                }
                Some(CheckedKey {
                    fk,
                    parent,
                    pairs: shape.pairs,
                    check: if Some(parent.oid) == users {
                        Check::CrossTenantUserAccess
                    } else {
                        Check::CrossTenantReferences
                    },
                })
            })
            .collect();
        if !keys.is_empty() {
            out.extend(reference_checks(child, &keys, tenant)?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Configuration checks.
