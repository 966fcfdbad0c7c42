//! Credential status entries (docs: the migration `create_credential_status`). Revoking is
//! not here: triggers on `link` do it in the transaction that ends the link.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::credential_status::{
    AllocateStatusError, CredentialState, CredentialStatusStore, LIST_SIZE, StatusEntry,
    StatusListId,
};
use sand_domain::link::LinkId;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};
use time::OffsetDateTime;
use tracing::instrument;

use crate::Store;
use crate::error::port;

/// Random draws of a free index before giving up (a list is left once half full: 32
/// draws all landing on taken indexes is a 1-in-4-billion event).
const DRAWS: usize = 32;

/// Credential status entries.
#[derive(Debug, Clone)]
pub struct SeaOrmCredentialStatusStore(pub(crate) Store);

fn sql(backend: DbBackend, text: &str) -> String {
    match backend {
        // numbered parameters (`?1`) on SQLite
        DbBackend::Sqlite => text.replace('$', "?"),
        _ => text.to_owned(),
    }
}

fn random_index() -> Result<u32, PortError> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| PortError::unexpected(e.to_string()))?;
    Ok(u32::from_le_bytes(bytes) % LIST_SIZE)
}

fn int(n: u32) -> Value {
    Value::from(i32::try_from(n).unwrap_or(i32::MAX))
}

#[async_trait]
impl CredentialStatusStore for SeaOrmCredentialStatusStore {
    #[instrument(skip_all, err(level = "debug"))]
    async fn allocate(
        &self,
        link: LinkId,
        at: OffsetDateTime,
    ) -> Result<StatusEntry, AllocateStatusError> {
        let tx = self.0.db.begin().await.map_err(port)?;
        let backend = tx.get_database_backend();
        // the link, locked against a concurrent end until this entry is committed (its
        // end's trigger then sees the entry and revokes it)
        let lock = if backend == DbBackend::Postgres {
            " FOR SHARE"
        } else {
            ""
        };
        let live = tx
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    &format!("SELECT id FROM link WHERE id = $1 AND withdrawn_at IS NULL{lock}"),
                ),
                [link.0.into()],
            ))
            .await
            .map_err(port)?;
        if live.is_none() {
            return Err(AllocateStatusError::LinkNotActive);
        }
        let row = tx
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT CAST(COALESCE(MAX(list_id), 0) AS integer) AS list FROM credential_status"
                    .to_owned(),
            ))
            .await
            .map_err(port)?;
        let mut list: i32 = match row {
            Some(row) => row.try_get("", "list").map_err(port)?,
            None => 0,
        };
        let used = tx
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT CAST(COUNT(*) AS integer) AS used FROM credential_status WHERE list_id = $1",
                ),
                [list.into()],
            ))
            .await
            .map_err(port)?;
        let used: i32 = match used {
            Some(row) => row.try_get("", "used").map_err(port)?,
            None => 0,
        };
        if u32::try_from(used).unwrap_or(0) >= LIST_SIZE / 2 {
            list += 1;
        }
        for _ in 0..DRAWS {
            let index = random_index()?;
            let inserted = tx
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql(
                        backend,
                        "INSERT INTO credential_status (list_id, idx, link_id, status, issued_at) \
                         VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING",
                    ),
                    [list.into(), int(index), link.0.into(), at.into()],
                ))
                .await
                .map_err(port)?;
            if inserted.rows_affected() == 1 {
                tx.commit().await.map_err(port)?;
                return Ok(StatusEntry {
                    list: StatusListId(u32::try_from(list).unwrap_or(0)),
                    index,
                });
            }
        }
        Err(PortError::unexpected("no free index found in the status list").into())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn state(&self, entry: StatusEntry) -> Result<Option<CredentialState>, PortError> {
        let backend = self.0.db.get_database_backend();
        let row = self
            .0
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT CAST(status AS integer) AS status FROM credential_status \
                     WHERE list_id = $1 AND idx = $2",
                ),
                [int(entry.list.0), int(entry.index)],
            ))
            .await
            .map_err(port)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let status: i32 = row.try_get("", "status").map_err(port)?;
        Ok(Some(if status == 0 {
            CredentialState::Valid
        } else {
            CredentialState::Invalid
        }))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn invalid_in(&self, list: StatusListId) -> Result<Vec<u32>, PortError> {
        let backend = self.0.db.get_database_backend();
        let rows = self
            .0
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT idx FROM credential_status WHERE list_id = $1 AND status <> 0 ORDER BY idx",
                ),
                [int(list.0)],
            ))
            .await
            .map_err(port)?;
        rows.iter()
            .map(|row| {
                let index: i32 = row.try_get("", "idx").map_err(port)?;
                u32::try_from(index).map_err(|_| crate::error::corrupt("status index"))
            })
            .collect()
    }
}
