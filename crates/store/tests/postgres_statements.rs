//! Every statement the PostgreSQL store runs names the tenant whose rows it reads or writes —
//! apart from the short list below, each with why — so the schema can be distributed by
//! `tenant_id` (see docs/scaling.md). This reads the store's source: a new statement without
//! the tenant fails here until it names one or joins the list with its reason.

/// The store's source files with SQL in them.
const SOURCES: [(&str, &str); 8] = [
    ("mod.rs", include_str!("../src/postgres/mod.rs")),
    ("batch.rs", include_str!("../src/postgres/batch.rs")),
    (
        "batch/changes.rs",
        include_str!("../src/postgres/batch/changes.rs"),
    ),
    (
        "batch/port.rs",
        include_str!("../src/postgres/batch/port.rs"),
    ),
    ("reads.rs", include_str!("../src/postgres/reads.rs")),
    (
        "ticket_reads.rs",
        include_str!("../src/postgres/ticket_reads.rs"),
    ),
    ("observe.rs", include_str!("../src/postgres/observe.rs")),
    ("verify.rs", include_str!("../src/postgres/verify.rs")),
];

/// Statements that do not name a tenant, by how they begin, and why that is right.
const REVIEWED: [(&str, &str); 15] = [
    ("SELECT 1", "the readiness probe"),
    (
        "INSERT INTO tenants",
        "a tenant's own row: its id is the tenant",
    ),
    (
        "SELECT nextval('waitlist_seq')",
        "arrival numbers are one sequence across tenants",
    ),
    (
        "UPDATE deliveries SET status",
        "the delivery worker records an attempt by the delivery's id (unique across tenants)",
    ),
    (
        "INSERT INTO delivery_attempts",
        "an attempt belongs to its delivery, by id",
    ),
    (
        "SELECT attempts FROM deliveries",
        "the delivery worker's attempt, by delivery id",
    ),
    (
        "SELECT attempt, at, status",
        "a delivery's attempts, by its id, after its tenant's check",
    ),
    (
        "SELECT COUNT(*), MIN(created_at) FROM deliveries",
        "the operator's backlog across tenants",
    ),
    (
        "SELECT to_regclass",
        "allot verify: is this an allot database",
    ),
    (
        "SELECT id, parent_id, held",
        "allot verify reads the whole database",
    ),
    (
        "SELECT pool_id, SUM(held_delta)",
        "allot verify reads the whole database",
    ),
    (
        "SELECT pool_id, COUNT(*) FROM waitlist_entries",
        "allot verify reads the whole database",
    ),
    (
        "SELECT status, lines FROM holds",
        "allot verify reads the whole database",
    ),
    (
        "SELECT DISTINCT ON (pool_id)",
        "allot verify reads the whole database",
    ),
    (
        "SELECT waitlist_entry_id, COUNT(*)",
        "allot verify reads the whole database",
    ),
];

/// The string literals of `source` outside comments and tests, whitespace folded. Char
/// literals (`'"'`) are stepped over; a lifetime (`'a`) is not a quote.
fn literals(source: &str) -> Vec<String> {
    let code: Vec<char> = source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or(source)
        .chars()
        .collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < code.len() {
        match code[at] {
            '/' if code.get(at + 1) == Some(&'/') => {
                while at < code.len() && code[at] != '\n' {
                    at += 1;
                }
            }
            '\'' if code.get(at + 1) == Some(&'\\') => {
                at += 2;
                while at < code.len() && code[at] != '\'' {
                    at += 1;
                }
                at += 1;
            }
            '\'' if code.get(at + 2) == Some(&'\'') => at += 3,
            '"' => {
                let mut text = String::new();
                at += 1;
                while at < code.len() && code[at] != '"' {
                    if code[at] == '\\' {
                        at += 1;
                    }
                    if let Some(c) = code.get(at) {
                        text.push(*c);
                    }
                    at += 1;
                }
                at += 1;
                found.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            _ => at += 1,
        }
    }
    found
}

#[test]
fn every_statement_names_its_tenant_or_is_reviewed() {
    let mut statements = 0;
    let mut unnamed = Vec::new();
    for (file, source) in SOURCES {
        for text in literals(source) {
            let upper = text.to_uppercase();
            let is_statement = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH "]
                .iter()
                .any(|verb| upper.starts_with(verb));
            if !is_statement {
                continue;
            }
            statements += 1;
            if upper.contains("TENANT_ID")
                || REVIEWED.iter().any(|(start, _)| text.starts_with(start))
            {
                continue;
            }
            unnamed.push(format!("{file}: {text}"));
        }
    }
    assert!(
        statements > 100,
        "found {statements} statements: is the scan still reading SQL?"
    );
    assert!(
        unnamed.is_empty(),
        "statements that name no tenant:\n{}",
        unnamed.join("\n")
    );
}
