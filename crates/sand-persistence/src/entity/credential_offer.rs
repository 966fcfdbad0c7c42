use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credential_offer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub link_id: Uuid,
    pub profile_id: Uuid,
    pub code_hash: Vec<u8>,
    pub tx_code_hash: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    pub wrong_tx_codes: i32,
    pub ended_at: Option<TimeDateTimeWithTimeZone>,
    pub redeemed_at: Option<TimeDateTimeWithTimeZone>,
    pub access_hash: Option<Vec<u8>>,
    pub access_expires_at: Option<TimeDateTimeWithTimeZone>,
    pub issued_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
