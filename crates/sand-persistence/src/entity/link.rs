use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "link")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub profile_id: Uuid,
    pub record_id: Uuid,
    pub key_hash: Vec<u8>,
    pub key_sealed: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub key_issued_at: TimeDateTimeWithTimeZone,
    pub withdrawn_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
