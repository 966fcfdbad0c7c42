use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profile")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub password_hash: Option<String>,
    pub fc_issuer: Option<String>,
    pub fc_subject: Option<String>,
    pub birth_name: String,
    pub first_names: String,
    pub birth_date: TimeDate,
    pub birth_place: Option<String>,
    pub birth_place_code: Option<String>,
    pub identity_certified: bool,
    pub birth_date_presumed: bool,
    pub notify_on_verification: bool,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
