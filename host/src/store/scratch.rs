//! Scratch PostgreSQL databases for the benchmarks: `bench all --postgres`
//! gives each PostgreSQL benchmark an empty database of its own on the
//! server named, and drops it afterwards.

use sqlx::Connection;

use super::StoreError;

/// Creates (after dropping any leftover of the same name) the database
/// `name` on the server of `server_url`, whose own database is only
/// connected to; answers the new database's URL.
pub async fn create_postgres_database(server_url: &str, name: &str) -> Result<String, StoreError> {
    check_name(name)?;
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(with_database(server_url, name))
}

/// Drops the database `name` made by [`create_postgres_database`].
pub async fn drop_postgres_database(server_url: &str, name: &str) -> Result<(), StoreError> {
    check_name(name)?;
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// The name goes into SQL text (identifiers cannot be bound): only
/// lower-case letters, digits and underscores pass.
fn check_name(name: &str) -> Result<(), StoreError> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(StoreError::Open(format!("not a scratch database name: {name:?}")))
    }
}

/// `server_url` with its database replaced by `name`, query kept.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/test?sslmode=disable", "sb_x"),
            "postgres://u@h:5432/sb_x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h/test", "sb_x"),
            "postgres://u@h/sb_x"
        );
        assert!(check_name("sb_bench_1").is_ok());
        assert!(check_name("x; DROP TABLE y").is_err());
    }
}
