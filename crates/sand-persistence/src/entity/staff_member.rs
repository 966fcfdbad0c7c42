use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_member")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub login: String,
    pub name: String,
    pub role: String,
    /// Issuer codes, comma-separated.
    pub issuers: String,
    pub password_hash: String,
    pub totp_sealed: Vec<u8>,
    pub totp_last_step: Option<i64>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub disabled_at: Option<TimeDateTimeWithTimeZone>,
    /// Unique when set (index `staff_member_email_key`).
    pub email: Option<String>,
    pub siret: Option<String>,
    pub sessions_valid_from: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
