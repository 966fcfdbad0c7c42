use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub at: TimeDateTimeWithTimeZone,
    pub actor: String,
    pub staff_id: Option<Uuid>,
    pub action: String,
    /// Record ids, comma-separated.
    pub records: String,
    pub link_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
    pub detail: String,
    pub origin: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
